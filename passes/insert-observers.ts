/**
 * The calibration graph: the rewrite with observers instead of QDQ. For every quantized tensor
 * it reduces, inside the graph, to one statistic per head and exposes it as an extra graph
 * output, so only H numbers per edge leave onnxruntime per batch:
 *
 *   x [B, H, S, D] ─ ReduceMin / ReduceMax (all axes but the head axis) ─▶ min [H], max [H]
 *
 * Min and max (not just |x|'s max) because compressed-tensors' moving-average observer averages
 * them separately. All of them are concatenated into one output, so each run hands back one
 * small tensor instead of two per edge. The mse observer searches clip ratios on the values themselves, so for it the
 * tensor is exposed as well. Packed [B, S, H·D] tensors are first reshaped to [B, S, H, D]. The
 * model's opset is kept.
 */
import type { Observer } from '../src/calibrate/observer-graph.js';
import { intAttr, intsAttr } from '../src/ir/attribute.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { GraphCopier } from '../src/ir/clone.js';
import type { Model } from '../src/ir/model.js';
import type { Node } from '../src/ir/node.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/ir/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import { carryEdges } from '../src/quant/edges.js';
import type { QuantEdge } from '../src/quant/edges.js';

export interface ObserversResult {
  readonly modified: boolean;
  readonly observers: Observer[];
  /** What was added, each at the end of its list (so it can be appended to the file's bytes). */
  readonly added: { readonly nodes: readonly Node[]; readonly outputs: readonly Value[]; readonly initializers: readonly Value[] };
}

export function insertObservers(model: Model, edges: readonly QuantEdge[]): ObserversResult {
  const g = model.graph;
  const before = { nodes: g.nodes.length, outputs: g.outputs.length, initializers: g.initializers.length };
  const b = new GraphBuilder(model);
  const opset = model.opsetVersion('') ?? 13;
  const observers: Observer[] = [];
  const stats: { value: Value; edge: number; tensor: number; stat: 'min' | 'max'; heads: number }[] = [];
  const reduce = (op: typeof Op.ReduceMax, x: Value, axes: number[], name: string): Value =>
    opset >= 18
      ? b.op(op, [x, b.constI64(`${name}/axes`, [axes.length], axes)], [intAttr('keepdims', 0)], name)
      : b.op(op, [x], [intsAttr('axes', axes), intAttr('keepdims', 0)], name);
  edges.forEach((e, ei) => {
    e.tensors.forEach((t, ti) => {
      const base = `ctc.observe/${e.site}/${e.role}${ti === 0 ? '' : '_past'}`;
      let x = t.value;
      let headAxis = t.headAxis;
      if (t.layout === 'BSE') {
        x = b.op(Op.Reshape, [x, b.constI64(`${base}/shape`, [4], [0, 0, e.heads, e.headDim])], [], `${base}/Reshape`);
        headAxis = 2;
      }
      const axes = [0, 1, 2, 3].filter((a) => a !== headAxis);
      for (const stat of ['min', 'max'] as const) {
        stats.push({ value: reduce(stat === 'min' ? Op.ReduceMin : Op.ReduceMax, x, axes, `${base}/${stat}`), edge: ei, tensor: ti, stat, heads: e.heads });
      }
      if (e.args.observer === 'mse') {
        // [B, H, S, D] or [B, S, H, D] values, reduced per head in JS.
        if (!model.graph.outputs.includes(x)) b.output(x);
        observers.push({ output: x.name, offset: 0, edge: ei, tensor: ti, stat: 'values' });
      }
    });
  });
  if (stats.length > 0) {
    // float32 whatever the activations' float type (float16 models), so the statistics concatenate
    const asFloat = stats.map((s) => b.op(Op.Cast, [s.value], [intAttr('to', DataType.FLOAT)], `${s.value.name}/float`));
    const all = b.output(b.op(Op.Concat, asFloat, [intAttr('axis', 0)], 'ctc.observe/statistics'));
    let offset = 0;
    for (const s of stats) {
      observers.push({ output: all.name, offset, edge: s.edge, tensor: s.tensor, stat: s.stat });
      offset += s.heads;
    }
  }
  // The builder only appends: what this pass added is the tail of each list.
  const added = { nodes: g.nodes.slice(before.nodes), outputs: g.outputs.slice(before.outputs), initializers: g.initializers.slice(before.initializers) };
  // Every output added is a node's (the statistics Concat) or a tensor whose reductions were added.
  return { modified: added.nodes.length > 0, observers, added };
}

export interface ObservedResult extends ObserversResult {
  /** The observer graph: a clone of the input with the observers; the input is left as it was. */
  readonly model: Model;
}

/**
 * The observers on a clone of `model`: the edges (found on `model`) are carried over to the
 * clone by the copier, so the sites are found and planned once.
 */
export function observe(model: Model, edges: readonly QuantEdge[]): ObservedResult {
  const copier = new GraphCopier();
  const copy = model.clone(copier);
  return { ...insertObservers(copy, carryEdges(edges, (v) => copier.valueOf(v))), model: copy };
}
