/**
 * Dynamic QDQ: on every tensor of an edge whose args are dynamic (strategy group), the scales
 * and zero points are computed in the graph from the tensor itself, one per group of
 * `group_size` values along the last axis, i.e. per token, head and group (compressed-tensors'
 * compute_dynamic_scales_and_zp then calculate_qparams, at run time):
 *
 *   x [.., L] ─ Reshape [.., L/g, g] ─ ReduceMin/ReduceMax(-1) ─ min(·,0), max(·,0) ─▶ lo, hi  [.., L/g]
 *     symmetric:  s = max(|lo|, |hi|) / ((q_max − q_min)/2)
 *     asymmetric: s = (hi − lo) / (q_max − q_min);  zp = QuantizeLinear(q_min − lo/s) (round, clamp)
 *     s = 0 (an all-zero group) ─▶ the scale type's epsilon, zp 0
 *   x ─ QuantizeLinear(s, zp, axis = last, block_size = g) ─ DequantizeLinear ─▶ (as insert-qdq)
 *
 * The pair is blocked QDQ (opset 21): its scale has x's shape with the last axis divided by g,
 * never one element, and consumers read it through the Max(d, d) guard, the form onnxruntime
 * keeps valid at every optimization level (src/quant/runtime-form.ts). Nothing is calibrated,
 * and no scale is stored: the model carries the computation.
 */
import type { Edge } from '../src/attention/site.js';
import { intAttr } from '../src/ir/attribute.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { encodeFromFloat32 } from '../src/ir/dtypes.js';
import type { Model } from '../src/ir/model.js';
import type { Node } from '../src/ir/node.js';
import { Tensor } from '../src/ir/tensor.js';
import { sortGraph } from '../src/ir/topo.js';
import type { Value } from '../src/ir/value.js';
import { Op } from '../src/onnx/ops.js';
import { quantRange, storageType } from '../src/quant/args.js';
import type { QuantEdge } from '../src/quant/edges.js';
import { zeroScaleReplacement } from '../src/quant/qparams.js';
import type { ScaleType } from '../src/quant/qparams.js';
import { activationFloatType, attachPair, existingQdq } from './insert-qdq.js';
import { upgradeOpset } from './upgrade-opset.js';

export interface DynamicQdqResult {
  readonly modified: boolean;
  /** Quantize/dequantize pairs inserted. */
  readonly inserted: number;
}

/** Blocked QuantizeLinear, and int4/int2 storage, need opset 21 and IR 10. */
export const DYNAMIC_QDQ_OPSET = 21;
export const DYNAMIC_QDQ_IR = 10;

/** The length of the last axis of an edge's tensor: head_dim, or heads·head_dim when packed. */
export function lastAxisLength(t: Edge, heads: number, headDim: number): number {
  return t.layout === 'BSE' ? heads * headDim : headDim;
}

/** Why the edge's group size cannot split its heads into whole groups, or undefined when it can. */
export function whyNotGrouped(e: QuantEdge): string | undefined {
  const g = e.args.group_size ?? 0;
  if (g > 0 && e.headDim % g === 0) return undefined;
  return `group_size ${g} does not divide head_dim ${e.headDim} of ${e.site}, so a group would mix two heads or leave a remainder; use a group_size that divides ${e.headDim}`;
}

export function insertDynamicQdq(model: Model, edges: readonly QuantEdge[]): DynamicQdqResult {
  const pending = edges.filter((e) => e.tensors.every((t) => existingQdq(t.value) === undefined));
  if (pending.length === 0) return { modified: false, inserted: 0 };
  for (const e of pending) {
    if (!e.args.dynamic) throw new Error(`insert-dynamic-qdq: ${e.scaleName} is not dynamic`);
    const why = whyNotGrouped(e);
    if (why !== undefined) throw new Error(`insert-dynamic-qdq: ${why}`);
  }
  upgradeOpset(model, Math.max(model.opsetVersion('') ?? 1, DYNAMIC_QDQ_OPSET), Math.max(model.irVersion, DYNAMIC_QDQ_IR));
  const b = new GraphBuilder(model);
  let inserted = 0;
  for (const e of pending) {
    e.tensors.forEach((t, ti) => {
      const base = `${e.site}/${e.role}${ti === 0 ? '' : '_past'}`;
      const { scale, zeroPoint, reader } = dynamicQParams(b, t, e, base);
      const attrs = [intAttr('axis', t.rank - 1), intAttr('block_size', e.args.group_size!), ...(zeroPoint === undefined ? [intAttr('output_dtype', storageType(e.args))] : [])];
      attachPair(model, t.value, base, scale, zeroPoint, attrs, [reader]);
      inserted++;
    });
  }
  sortGraph(model.graph);
  return { modified: true, inserted };
}

/** The nodes that compute one tensor's scales (and zero points, asymmetric) from its values. */
function dynamicQParams(b: GraphBuilder, t: Edge, e: QuantEdge, base: string): { scale: Value; zeroPoint: Value | undefined; reader: Node } {
  const type = activationFloatType(t.value) as ScaleType;
  const c = (name: string, value: number): Value => b.initializer(`${base}/${name}`, new Tensor('', type, [], { kind: 'raw', bytes: encodeFromFloat32(type, [value]) }));
  const g = e.args.group_size!;
  const [qMin, qMax] = quantRange(e.args);
  const reader = b.node(Op.Reshape, [t.value, b.constI64(`${base}/group_shape`, [t.rank + 1], [...new Array<number>(t.rank - 1).fill(0), -1, g])], [], { name: `${base}/Groups` });
  const groups = reader.output();
  const last = b.constI64(`${base}/group_axis`, [1], [-1]);
  const zero = c('zero', 0);
  const lo = b.op(Op.Min, [b.op(Op.ReduceMin, [groups, last], [intAttr('keepdims', 0)], `${base}/GroupMin`), zero]);
  const hi = b.op(Op.Max, [b.op(Op.ReduceMax, [groups, last], [intAttr('keepdims', 0)], `${base}/GroupMax`), zero]);
  const raw = e.args.symmetric
    ? b.op(Op.Div, [b.op(Op.Max, [b.op(Op.Abs, [lo]), b.op(Op.Abs, [hi])]), c('half_range', (qMax - qMin) / 2)], [], `${base}/Scale`)
    : b.op(Op.Div, [b.op(Op.Sub, [hi, lo]), c('range', qMax - qMin)], [], `${base}/Scale`);
  const allZero = b.op(Op.Equal, [raw, zero]);
  const scale = b.op(Op.Where, [allZero, c('epsilon', zeroScaleReplacement(type)), raw], [], `${base}/ScaleOrEpsilon`);
  if (e.args.symmetric) return { scale, zeroPoint: undefined, reader };
  // q_min − lo/s, rounded half to even and clamped to [q_min, q_max] by a QuantizeLinear with scale 1
  const shifted = b.op(Op.Where, [allZero, zero, b.op(Op.Sub, [c('q_min', qMin), b.op(Op.Div, [lo, raw])])]);
  const qType = storageType(e.args);
  const zpZero = b.initializer(`${base}/zero_point_zero`, new Tensor('', qType, [], { kind: 'raw', bytes: encodeFromFloat32(qType, [0]) }));
  const zeroPoint = b.op(Op.QuantizeLinear, [shifted, c('one', 1), zpZero], [], `${base}/ZeroPoint`);
  return { scale, zeroPoint, reader };
}
