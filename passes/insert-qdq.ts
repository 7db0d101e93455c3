/**
 * The QDQ rewrite: on every quantized tensor of a site, QuantizeLinear → DequantizeLinear with
 * its calibrated scales, and every other use of the tensor reads the dequantized value:
 *
 *   present.N.key (Concat output) ─▶ [renamed present.N.key.float] ─ Q ─ DQ ─▶ present.N.key ─▶ attention, graph output
 *
 * Graph input and output names never change: a graph output that is quantized keeps its name on
 * the DequantizeLinear output, so the model's interface is the same and `present` holds the
 * quantized cache. Per head: per-axis QDQ on the head axis with H scales (packed [B,S,H·D]
 * tensors repeat each head's scale D times). Per tensor: one scalar scale. Zero points are
 * typed initializers (float8 zeros, or the integer zero points), so the output type never falls
 * back to uint8. Scales have the activation's float type. Opset and IR are raised only as far as
 * the types need. A tensor that already has a Q→DQ pair is left alone: applying twice is a no-op.
 */
import { intAttr } from '../src/ir/attribute.js';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { Tensor } from '../src/ir/tensor.js';
import { elemTypeOf } from '../src/ir/types.js';
import { Value } from '../src/ir/value.js';
import { sortGraph } from '../src/ir/topo.js';
import { DataType, encodeFromFloat32 } from '../src/onnx/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import { qdqRequirements, storageType } from '../src/quant/args.js';
import type { QuantEdge } from '../src/quant/edges.js';
import { perAxisValues } from '../src/quant/edges.js';
import type { QParams } from '../src/quant/qparams.js';
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

/** The Q node of a Q→DQ pair on `v`, or of the pair that produced `v`. */
export function existingQdq(v: Value): Node | undefined {
  const p = v.producer();
  if (p?.is(Op.DequantizeLinear) && p.inputs[0]?.producer()?.is(Op.QuantizeLinear)) return p.inputs[0].producer();
  return v.uses().find((u) => u.node.is(Op.QuantizeLinear) && u.index === 0 && u.node.output(0).uses().some((w) => w.node.is(Op.DequantizeLinear)))?.node;
}

export function insertQdq(model: Model, inputs: readonly QdqInput[]): QdqResult {
  const b = new GraphBuilder(model);
  const g = model.graph;
  let opset = model.opsetVersion('') ?? 1;
  let irVersion = model.irVersion;
  const pending = inputs.filter(({ edge }) => edge.tensors.every((t) => existingQdq(t.value) === undefined));
  for (const { edge } of pending) {
    const req = qdqRequirements(storageType(edge.args), edge.args.strategy === 'attn_head');
    opset = Math.max(opset, req.opset);
    irVersion = Math.max(irVersion, req.irVersion);
  }
  if (pending.length === 0) return { modified: false, skipped: inputs.length, inserted: 0 };
  upgradeOpset(model, opset, irVersion);

  let inserted = 0;
  for (const { edge, qparams } of pending) {
    const qType = storageType(edge.args);
    const perHead = edge.args.strategy === 'attn_head';
    edge.tensors.forEach((t, ti) => {
      const x = t.value;
      const floatType = elemTypeOf(x.type) === DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT;
      const suffix = ti === 0 ? '' : '_past';
      const scaleValues = perHead ? perAxisValues(qparams.scale, t, edge.headDim) : [qparams.scale[0]!];
      const zpValues = perHead ? perAxisValues(qparams.zeroPoint, t, edge.headDim) : [qparams.zeroPoint[0]!];
      // The compressed-tensors name goes to the per-head scale; a packed repeat gets a suffix.
      const packed = t.layout === 'BSE' && perHead ? '_packed' : '';
      const dims = perHead ? [scaleValues.length] : [];
      const scale = b.initializer(`${edge.scaleName}${suffix}${packed}`, new Tensor('', floatType, dims, { kind: 'raw', bytes: encodeFromFloat32(floatType, scaleValues) }));
      const zp = b.initializer(`${edge.zeroPointName}${suffix}${packed}`, new Tensor('', qType, dims, { kind: 'raw', bytes: encodeFromFloat32(qType, zpValues) }));
      const axis = perHead ? [intAttr('axis', t.headAxis)] : [];
      const base = `${edge.site}/${edge.role}${suffix}`;
      const wasOutput = g.outputs.indexOf(x);
      const name = x.name;
      const qOut = new Value(model.names.fresh(`${base}/QuantizeLinear_output`));
      const dqOut = new Value(wasOutput >= 0 ? name : model.names.fresh(`${base}/DequantizeLinear_output`));
      const q = new Node(Op.QuantizeLinear, [x, scale, zp], [qOut], axis, model.names.fresh(`${base}/QuantizeLinear`));
      const dq = new Node(Op.DequantizeLinear, [qOut, scale, zp], [dqOut], axis, model.names.fresh(`${base}/DequantizeLinear`));
      if (wasOutput >= 0) {
        // The graph output keeps its name (and type) on the dequantized value.
        x.name = model.names.fresh(`${name}.unquantized`);
        dqOut.type = x.type;
        g.setOutput(wasOutput, dqOut);
      }
      x.replaceAllUsesWith(dqOut, { except: new Set([q]) });
      g.insertAfter(x.producer(), [q, dq]);
      inserted++;
    });
  }
  sortGraph(g);
  return { modified: true, skipped: inputs.length - pending.length, inserted };
}
