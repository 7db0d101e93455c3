/**
 * The QDQ rewrite: on every quantized tensor of a site, QuantizeLinear → DequantizeLinear with
 * its calibrated scales, and every other use of the tensor reads the dequantized value:
 *
 *   present.N.key (Concat output) ─▶ [renamed present.N.key.unquantized] ─ Q ─ DQ ─▶ present.N.key (graph output)
 *                                                                             └─ Max(d, d) ─▶ attention
 *
 * Graph input and output names never change: a graph output that is quantized keeps its name on
 * the DequantizeLinear output, so the model's interface is the same and `present` holds the
 * quantized cache. Per head: per-axis QDQ on the head axis with H scales (packed [B,S,H·D]
 * tensors repeat each head's scale D times). Per tensor (or one head): the scale repeated along
 * the last axis. Zero points are
 * typed initializers (float8 zeros, or the integer zero points), so the output type never falls
 * back to uint8. Scales have the activation's float type. Opset and IR are raised only as far as
 * the types need. A tensor that already has a Q→DQ pair is left alone: applying twice is a no-op
 * (compile refuses a model that has one before calibrating it: alreadyQuantized).
 *
 * Every pair takes the form onnxruntime's optimizer keeps valid (src/quant/runtime-form.ts):
 * scales of more than one element, and consumers read the dequantized value through Max(d, d).
 */
import { pairProducing, pairsOn } from '../src/attention/qdq-pair.js';
import type { Edge, Site } from '../src/attention/site.js';
import { intAttr } from '../src/ir/attribute.js';
import type { Attribute } from '../src/ir/attribute.js';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { Tensor } from '../src/ir/tensor.js';
import { elemTypeOf } from '../src/ir/types.js';
import { Value } from '../src/ir/value.js';
import { sortGraph } from '../src/ir/topo.js';
import { DataType, encodeFromFloat32 } from '../src/ir/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import { qdqRequirements, storageType } from '../src/quant/args.js';
import type { QuantEdge } from '../src/quant/edges.js';
import type { QParams, ScaleType } from '../src/quant/qparams.js';
import { scaleLayout } from '../src/quant/runtime-form.js';
import { upgradeOpset } from './upgrade-opset.js';

export interface QdqInput {
  readonly edge: QuantEdge;
  /** Per head (length heads) for attn_head, length 1 for tensor. */
  readonly qparams: QParams;
}

export interface QdqResult {
  readonly modified: boolean;
  /** Edges skipped because they were already quantized. */
  readonly skipped: number;
  /** Quantize/dequantize pairs inserted. */
  readonly inserted: number;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/**
 * The float type of an activation, which its scales must have: its declared type, or else the
 * nearest declared float type up its producers (a graph input, an initializer, a Cast's
 * target), since exports rarely declare intermediate types. float16 and bfloat16 models get
 * scales of their type; anything else float32.
 */
export function activationFloatType(v: Value): DataType {
  const seen = new Set<Value>([v]);
  const queue = [v];
  for (let i = 0; i < queue.length; i++) {
    const x = queue[i]!;
    const p = x.producer();
    const declared = elemTypeOf(x.type) ?? x.initializer?.dataType ?? (p?.is(Op.Cast) ? p.intAttr('to') : undefined);
    if (declared !== undefined && FLOAT_TYPES.has(declared)) return declared === DataType.FLOAT16 || declared === DataType.BFLOAT16 ? declared : DataType.FLOAT;
    if (declared !== undefined) continue; // an integer or bool value: not where the activation's type comes from
    for (const input of p?.inputs ?? []) {
      if (input !== undefined && !seen.has(input)) {
        seen.add(input);
        queue.push(input);
      }
    }
  }
  return DataType.FLOAT;
}

/** The float type of a tensor's scale: the activation's own. */
export function scaleTypeOf(t: Edge): ScaleType {
  return activationFloatType(t.value) as ScaleType;
}

/** The Q node of a Q→DQ pair on `v`, or of the pair that produced `v` (through its guard). */
export function existingQdq(v: Value): Node | undefined {
  return pairProducing(v)?.quantize ?? pairsOn(v)[0]?.quantize;
}

/**
 * The first Q, K, V or cache edge of the sites that already carries a Q→DQ pair (a compiled
 * model), with that pair's QuantizeLinear.
 */
export function alreadyQuantized(sites: readonly Site[]): { site: Site; role: string; tensor: Value; quantize: Node } | undefined {
  for (const site of sites) {
    const edges: [string, Edge | undefined][] = [['Q', site.q], ['K', site.k], ['V', site.v], ['past K', site.kPast], ['past V', site.vPast]];
    for (const [role, e] of edges) {
      const quantize = e === undefined ? undefined : existingQdq(e.value);
      if (quantize !== undefined) return { site, role, tensor: e!.value, quantize };
    }
  }
  return undefined;
}

/** The edges that have no Q→DQ pair yet: the ones this pass rewrites. */
function pendingOf(inputs: readonly QdqInput[]): QdqInput[] {
  return inputs.filter(({ edge }) => edge.tensors.every((t) => existingQdq(t.value) === undefined));
}

/**
 * The opset and IR version the new pairs need (never below the model's): compile runs
 * upgrade-opset to them before this pass; the pass raises them itself when run alone.
 */
export function qdqNeeds(model: Model, inputs: readonly QdqInput[]): { opset: number; irVersion: number } {
  let opset = model.opsetVersion('') ?? 1;
  let irVersion = model.irVersion;
  for (const { edge } of pendingOf(inputs)) {
    // Every scale is per-axis in the form onnxruntime keeps valid (runtime-form.ts).
    const req = qdqRequirements(storageType(edge.args), true);
    // QuantizeLinear takes float16 and bfloat16 inputs (and scales) from opset 19 on
    const halfFloat = edge.tensors.some((t) => activationFloatType(t.value) !== DataType.FLOAT);
    opset = Math.max(opset, req.opset, halfFloat ? 19 : 0);
    irVersion = Math.max(irVersion, req.irVersion, halfFloat ? 9 : 0);
  }
  return { opset, irVersion };
}

/**
 * Put a QuantizeLinear → DequantizeLinear pair with these scale and zero point (and attributes)
 * on `x`: a graph output keeps its name on the dequantized value, every other consumer of `x`
 * reads it through the Max(d, d) guard (runtime-form.ts), except `readers`: new nodes that must
 * see x itself (those that compute a dynamic scale from it). The caller sorts the graph after.
 */
export function attachPair(model: Model, x: Value, base: string, scale: Value, zeroPoint: Value | undefined, attrs: readonly Attribute[], readers: readonly Node[] = []): void {
  const g = model.graph;
  const wasOutput = g.outputs.indexOf(x);
  const name = x.name;
  const qOut = new Value(model.names.fresh(`${base}/QuantizeLinear_output`));
  const dqOut = new Value(wasOutput >= 0 ? name : model.names.fresh(`${base}/DequantizeLinear_output`));
  const params = zeroPoint === undefined ? [scale] : [scale, zeroPoint];
  const q = new Node(Op.QuantizeLinear, [x, ...params], [qOut], attrs, model.names.fresh(`${base}/QuantizeLinear`));
  // DequantizeLinear takes no output_dtype: its type is the scale's
  const dqAttrs = attrs.filter((a) => a.name !== 'output_dtype');
  const dq = new Node(Op.DequantizeLinear, [qOut, ...params], [dqOut], dqAttrs, model.names.fresh(`${base}/DequantizeLinear`));
  const forConsumers = new Value(model.names.fresh(`${base}/Guard_output`));
  const guard = new Node(Op.Max, [dqOut, dqOut], [forConsumers], [], model.names.fresh(`${base}/Guard`));
  if (wasOutput >= 0) {
    // The graph output keeps its name (and type) on the dequantized value.
    x.name = model.names.fresh(`${name}.unquantized`);
    dqOut.type = x.type;
    g.setOutput(wasOutput, dqOut);
  }
  x.replaceAllUsesWith(forConsumers, { except: new Set([q, ...readers]) });
  g.insertAfter(x.producer(), [q, dq, guard]);
}

export function insertQdq(model: Model, inputs: readonly QdqInput[]): QdqResult {
  const b = new GraphBuilder(model);
  const g = model.graph;
  const pending = pendingOf(inputs);
  if (pending.length === 0) return { modified: false, skipped: inputs.length, inserted: 0 };
  const needs = qdqNeeds(model, pending);
  upgradeOpset(model, needs.opset, needs.irVersion);

  let inserted = 0;
  for (const { edge, qparams } of pending) {
    const qType = storageType(edge.args);
    const perHead = edge.args.strategy === 'attn_head';
    edge.tensors.forEach((t, ti) => {
      const x = t.value;
      const floatType = activationFloatType(x);
      const suffix = ti === 0 ? '' : '_past';
      const layout = scaleLayout(qparams.scale, qparams.zeroPoint, perHead, t, edge.heads, edge.headDim);
      const dims = [layout.scales.length];
      // Stryker disable next-line StringLiteral: a placeholder name, which b.initializer replaces, so any string is equivalent
      const stored = (type: DataType, values: readonly number[]): Tensor => new Tensor('', type, dims, { kind: 'raw', bytes: encodeFromFloat32(type, values) });
      const scale = b.initializer(`${edge.scaleName}${suffix}${layout.suffix}`, stored(floatType, layout.scales));
      const zp = b.initializer(`${edge.zeroPointName}${suffix}${layout.suffix}`, stored(qType, layout.zeroPoints));
      attachPair(model, x, `${edge.site}/${edge.role}${suffix}`, scale, zp, [intAttr('axis', layout.axis)]);
      inserted++;
    });
  }
  sortGraph(g);
  return { modified: true, skipped: inputs.length - pending.length, inserted };
}
