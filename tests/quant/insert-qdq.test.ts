/**
 * The QDQ rewrite, node by node, against what DOMAIN.md and the ONNX operator specs require:
 *
 *   - per head: per-axis QDQ, axis 1 with H scales on [B, H, S, D]; axis 2 with each head's
 *     scale D times on packed [B, S, H·D]; per tensor: a scalar scale, no axis;
 *   - QuantizeLinear always gets a typed zero point (float8 zeros, or the integer zero points);
 *   - scales have the activation's float type;
 *   - the opset and IR version are raised only as far as the storage type needs (float8: 19 and
 *     9; int4: 21 and 10; per-axis int8: 13);
 *   - graph output names never change: a quantized graph output keeps its name on the
 *     DequantizeLinear output; every other use reads the dequantized value;
 *   - applying twice equals applying once.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { activationFloatType, alreadyQuantized, existingQdq, insertQdq, qdqNeeds, scaleTypeOf } from '../../passes/insert-qdq.js';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Value as ValueClass } from '../../src/ir/value.js';
import { verifyModel } from '../../src/ir/verify.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { quantEdges } from '../../src/quant/edges.js';
import type { QuantEdge } from '../../src/quant/edges.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import { planSites } from '../../src/rules/targets.js';
import type { BlockSpec } from '../harness/attention-blocks.js';
import { buildAttentionGraph } from '../harness/attention-blocks.js';

const block: BlockSpec = { heads: 4, ratio: 2, headDim: 4, layout: 'BHSD', scale: 'scores-mul', mask: 'none', cache: true, castAfterSoftmax: false, nanGuard: false, softmaxAxis: -1, projection: 'separate', mutation: 'none' };

const group = (args: Record<string, unknown>) => parseRuleSet({ config_groups: { g: { targets: ['attention'], input_activations: args } } }, 't', 't.json');

/** Apply a rule set to a model with scales 0.01·(h+1) per head (and zero points 3·h for asymmetric args). */
function apply(model: Model, args: Record<string, unknown>): { edges: QuantEdge[]; result: ReturnType<typeof insertQdq> } {
  const edges = quantEdges(planSites(group(args), findSites(model, ATTENTION_PATTERNS).sites));
  const inputs = edges.map((edge) => {
    const n = edge.args.strategy === 'attn_head' ? edge.heads : 1;
    return { edge, qparams: { scale: Float32Array.from({ length: n }, (_, h) => 0.01 * (h + 1)), zeroPoint: Int32Array.from({ length: n }, (_, h) => (edge.args.symmetric ? 0 : 3 * h)) } };
  });
  return { edges, result: insertQdq(model, inputs) };
}

const quantizeOf = (m: Model, input: string): Node => [...m.graph.nodes].find((n) => n.is(Op.QuantizeLinear) && n.inputs[0]!.name === input)!;

describe('insertQdq on a decomposed block with a cache (present.0.key/value are graph outputs)', () => {
  it('fp8 per head: axis 1, H scales per edge, float8 zero points, opset 19 / IR 9; outputs keep their names', () => {
    const g = buildAttentionGraph([block], [], { router: false, classifier: false });
    const m = g.model;
    const outputsBefore = m.graph.outputs.map((v) => v.name);
    const p = g.planted[0]!;
    const { result } = apply(m, { num_bits: 8, type: 'float', strategy: 'attn_head' });
    expect(result).toEqual({ modified: true, skipped: 0, inserted: 3 });
    expect([m.opsetVersion(''), m.irVersion]).toEqual([19, 9]);
    expect(m.graph.outputs.map((v) => v.name)).toEqual(outputsBefore);
    verifyModel(m);

    const site = findSitesName(m);
    for (const [role, heads] of [['q', 4], ['k', 2], ['v', 2]] as const) {
      const q = [...m.graph.nodes].find((n) => n.is(Op.QuantizeLinear) && n.name === `${site}/${role}/QuantizeLinear`)!;
      expect(q, role).toBeDefined();
      expect(q.intAttr('axis')).toBe(1);
      const [, scale, zp] = q.inputs;
      expect(scale!.name).toBe(`${site}.${role}_scale`);
      expect(zp!.name).toBe(`${site}.${role}_zero_point`);
      expect([scale!.initializer!.dataType, scale!.initializer!.dims]).toEqual([DataType.FLOAT, [heads]]);
      expect(Array.from(scale!.initializer!.toFloat32())).toEqual(Array.from({ length: heads }, (_, h) => Math.fround(0.01 * (h + 1))));
      expect([zp!.initializer!.dataType, zp!.initializer!.dims, Array.from(zp!.initializer!.toFloat32())]).toEqual([DataType.FLOAT8E4M3FN, [heads], new Array(heads).fill(0)]);
      // the DequantizeLinear reads the same scale and zero point, on the same axis
      const dq = q.output(0).uses().map((u) => u.node);
      expect(dq.length).toBe(1);
      expect(dq[0]!.is(Op.DequantizeLinear)).toBe(true);
      expect([dq[0]!.inputs[1], dq[0]!.inputs[2], dq[0]!.intAttr('axis')]).toEqual([scale, zp, 1]);
      expect([q.name, dq[0]!.name, dq[0]!.output(0).uses().map((u) => u.node.name)]).toEqual([`${site}/${role}/QuantizeLinear`, `${site}/${role}/DequantizeLinear`, [`${site}/${role}/Guard`, `${site}/${role}/Guard`]]); // Max(d, d) reads d twice
    }
    // the cache: present.0.key is now the DequantizeLinear output; the attention reads it
    const present = m.graph.outputs.find((v) => v.name === 'present.0.key')!;
    expect(present.producer()!.is(Op.DequantizeLinear)).toBe(true);
    const kq = present.producer()!.inputs[0]!.producer()!;
    expect(kq.inputs[0]!.name).toBe('present.0.key.unquantized');
    expect(kq.inputs[0]!.producer()!.is(Op.Concat)).toBe(true);
    expect(kq.inputs[0]!.uses().map((u) => u.node)).toEqual([kq]);
    expect(present.uses().length).toBeGreaterThan(0);
    // Q: every former use of Q reads the dequantized value
    const qq = quantizeOf(m, p.q);
    const qValue = qq.inputs[0]!;
    expect(qValue.uses().map((u) => u.node)).toEqual([qq]);

    // twice == once
    const nodes = m.graph.nodes.length;
    const again = apply(m, { num_bits: 8, type: 'float', strategy: 'attn_head' });
    expect(again.result).toEqual({ modified: false, skipped: 3, inserted: 0 });
    expect(m.graph.nodes.length).toBe(nodes);
  });

  it('int8 per tensor: the one scale repeated along the last axis (head_dim), int8 zero points; opset 17 has per-axis QDQ', () => {
    const m = buildAttentionGraph([block], [], { router: false, classifier: false }).model;
    apply(m, { num_bits: 8, type: 'int', strategy: 'tensor' });
    expect([m.opsetVersion(''), m.irVersion]).toEqual([17, 8]);
    const qs = [...m.graph.nodes].filter((n) => n.is(Op.QuantizeLinear));
    expect(qs.length).toBe(3);
    for (const q of qs) {
      const rank = 4;
      expect(q.intAttr('axis')).toBe(rank - 1);
      expect(q.inputs[1]!.name.endsWith('_repeated')).toBe(true);
      expect(q.inputs[2]!.initializer!.dataType).toBe(DataType.INT8);
      const values = Array.from(q.inputs[1]!.initializer!.toFloat32());
      expect(values.length).toBe(block.headDim);
      expect(new Set(values)).toEqual(new Set([Math.fround(0.01)]));
    }
  });

  it('int4 asymmetric per head: int4 zero points with their values, opset 21 / IR 10', () => {
    const m = buildAttentionGraph([block], [], { router: false, classifier: false }).model;
    apply(m, { num_bits: 4, type: 'int', strategy: 'attn_head', symmetric: false });
    expect([m.opsetVersion(''), m.irVersion]).toEqual([21, 10]);
    const site = findSitesName(m);
    const zp = m.graph.initializers.find((v) => v.name === `${site}.k_zero_point`)!.initializer!;
    expect([zp.dataType, Array.from(zp.toFloat32())]).toEqual([DataType.INT4, [0, 3]]);
  });
});

/** A MultiHeadAttention with packed [1, 3, 8] Q/K/V (2 heads of 4) and the past [1, 2, 2, 4] inside the op. */
function mha(): Model {
  const m = emptyModel({ '': 17, 'com.microsoft': 1 });
  const b = new GraphBuilder(m);
  const q = b.input('query', DataType.FLOAT, [1, 3, 8]);
  const k = b.input('key', DataType.FLOAT, [1, 3, 8]);
  const v = b.input('value', DataType.FLOAT, [1, 3, 8]);
  const pk = b.input('past_key', DataType.FLOAT, [1, 2, 2, 4]);
  const pv = b.input('past_value', DataType.FLOAT, [1, 2, 2, 4]);
  const n = b.node(Op.MsMultiHeadAttention, [q, k, v, undefined, undefined, undefined, pk, pv], [intAttr('num_heads', 2)], { outputs: 3, name: 'attn' });
  b.output(n.output(0), 'y');
  b.output(n.output(1), 'present_key');
  b.output(n.output(2), 'present_value');
  return m;
}

describe('insertQdq on MultiHeadAttention (packed Q/K/V, the past inside the op)', () => {
  it('packed: axis 2, each head D times ("_packed"); the past: axis 1, per head ("_past"); inputs keep their names', () => {
    const m = mha();
    const { result } = apply(m, { num_bits: 8, type: 'float', strategy: 'attn_head' });
    expect(result.inserted).toBe(5);
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['query', 'key', 'value', 'past_key', 'past_value']);
    const site = findSitesName(m);
    const key = quantizeOf(m, 'key');
    expect([key.intAttr('axis'), key.inputs[1]!.name, Array.from(key.inputs[1]!.initializer!.toFloat32())]).toEqual([2, `${site}.k_scale_packed`, [0.01, 0.01, 0.01, 0.01, 0.02, 0.02, 0.02, 0.02].map(Math.fround)]);
    expect(key.inputs[2]!.initializer!.dims).toEqual([8]);
    const past = quantizeOf(m, 'past_key');
    expect([past.intAttr('axis'), past.inputs[1]!.name, Array.from(past.inputs[1]!.initializer!.toFloat32())]).toEqual([1, `${site}.k_scale_past`, [0.01, 0.02].map(Math.fround)]);
    expect(past.name).toBe(`${site}/k_past/QuantizeLinear`);
    // the op reads the dequantized past
    const op = [...m.graph.nodes].find((n) => n.is(Op.MsMultiHeadAttention))!;
    // through the guard Max(d, d) (src/quant/runtime-form.ts)
    const guard = op.inputs[6]!.producer()!;
    expect(guard.is(Op.Max) && guard.inputs[0] === guard.inputs[1]).toBe(true);
    expect(guard.inputs[0]!.producer()!.is(Op.DequantizeLinear)).toBe(true);
    expect(guard.inputs[0]!.producer()!.inputs[0]!.producer()).toBe(past);
    verifyModel(m);
  });
});

function findSitesName(m: Model): string {
  return findSites(m, ATTENTION_PATTERNS).sites[0]!.name;
}

describe('the float type of an activation (QuantizeLinear, opset 19+: y_scale has the type of x)', () => {
  it('declared on the value, or on the nearest graph input, initializer or Cast up its producers', () => {
    const m = emptyModel({ '': 19 });
    const b = new GraphBuilder(m);
    const h = b.input('h', DataType.FLOAT16, [2]);
    const bf = b.input('bf', DataType.BFLOAT16, [2]);
    const f = b.input('f', DataType.FLOAT, [2]);
    const d = b.input('d', DataType.DOUBLE, [2]);
    const i = b.input('i', DataType.INT64, [2]);
    expect([h, bf, f, d].map(activationFloatType)).toEqual([DataType.FLOAT16, DataType.BFLOAT16, DataType.FLOAT, DataType.FLOAT]);
    // two undeclared steps from a float16 / bfloat16 input
    expect(activationFloatType(b.op(Op.Neg, [b.op(Op.Transpose, [h])]))).toBe(DataType.FLOAT16);
    expect(activationFloatType(b.op(Op.Neg, [b.op(Op.Transpose, [bf])]))).toBe(DataType.BFLOAT16);
    // an initializer's type
    const w = b.initializer('w', Tensor.fromFloat32('w', DataType.FLOAT16, [2], [1, 2]));
    expect(activationFloatType(b.op(Op.Mul, [b.op(Op.Shape, []), w]))).toBe(DataType.FLOAT16);
    // a Cast's target, though its input is an integer
    expect(activationFloatType(b.op(Op.Neg, [b.op(Op.Cast, [i], [intAttr('to', DataType.BFLOAT16)])]))).toBe(DataType.BFLOAT16);
    // nothing declared anywhere: float32
    expect(activationFloatType(b.op(Op.Neg, [b.op(Op.Shape, [])]))).toBe(DataType.FLOAT);
    expect(activationFloatType(new ValueClass('loose'))).toBe(DataType.FLOAT);
    // a tensor's scale type is its activation's
    expect(scaleTypeOf({ value: b.op(Op.Relu, [h]), layout: 'BHSD', headAxis: 1, rank: 4 })).toBe(DataType.FLOAT16);
  });
  it('an integer value on the way is not where the type comes from, nor are its own producers', () => {
    // y = Reshape(Identity(Identity(x: float32)), Cast(h: float16, to=int64)): the int64 shape is
    // nearer than x, but the float16 tensor it was computed from says nothing about y
    const m = emptyModel({ '': 19 });
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [2]);
    const h = b.input('h', DataType.FLOAT16, [1]);
    const y = b.op(Op.Reshape, [b.op(Op.Identity, [b.op(Op.Identity, [x])]), b.op(Op.Cast, [h], [intAttr('to', DataType.INT64)])]);
    expect(activationFloatType(y)).toBe(DataType.FLOAT);
    // and the other way round: the float16 data two steps up, not float32 for the int64 shape
    const y16 = b.op(Op.Reshape, [b.op(Op.Identity, [b.op(Op.Identity, [h])]), b.op(Op.Cast, [x], [intAttr('to', DataType.INT64)])]);
    expect(activationFloatType(y16)).toBe(DataType.FLOAT16);
  });
  it('a value reached twice is searched once (a diamond), and the first declared type found wins', () => {
    const m = emptyModel({ '': 19 });
    const b = new GraphBuilder(m);
    const h = b.input('h', DataType.FLOAT16, [2]);
    const t = b.op(Op.Transpose, [h]);
    expect(activationFloatType(b.op(Op.Add, [t, t]))).toBe(DataType.FLOAT16);
  });
});

describe('an existing Q→DQ pair on a tensor (what makes a second insertQdq a no-op and compile refuse a compiled model)', () => {
  function pairs() {
    const m = emptyModel({ '': 19 });
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [2]);
    const s = b.constF32('s', [], [0.5]);
    const q = b.node(Op.QuantizeLinear, [x, s], [], { name: 'q' });
    const dq = b.op(Op.DequantizeLinear, [q.output(0), s]);
    const guarded = b.op(Op.Max, [dq, dq]);
    return { m, b, x, s, q, dq, guarded };
  }
  it('found from the tensor it quantizes, from the dequantized value, and through the Max(d, d) guard', () => {
    const { x, q, dq, guarded } = pairs();
    expect(existingQdq(x)).toBe(q);
    expect(existingQdq(dq)).toBe(q);
    expect(existingQdq(guarded)).toBe(q);
  });
  it('not found for a Max of two different values, a lone QuantizeLinear, a DequantizeLinear of a stored tensor, or a tensor used as a scale', () => {
    const { b, x, s, dq } = pairs();
    expect(existingQdq(b.op(Op.Max, [dq, x]))).toBeUndefined();
    expect(existingQdq(b.op(Op.Max, [dq]))).toBeUndefined();
    expect(existingQdq(b.op(Op.Max, [dq, dq, x]))).toBeUndefined();
    expect(existingQdq(b.op(Op.Add, [dq, dq]))).toBeUndefined();
    const y = b.input('y', DataType.FLOAT, [2]);
    b.node(Op.QuantizeLinear, [y, s]); // quantized, never dequantized
    expect(existingQdq(y)).toBeUndefined();
    const stored = b.initializer('w8', Tensor.fromFloat32('w8', DataType.INT8, [2], [1, 2]));
    expect(existingQdq(b.op(Op.DequantizeLinear, [stored, s]))).toBeUndefined();
    const scale = b.input('scale', DataType.FLOAT, []);
    const q2 = b.node(Op.QuantizeLinear, [x, scale]);
    b.op(Op.DequantizeLinear, [q2.output(0), scale]);
    expect(existingQdq(scale)).toBeUndefined();
    expect(existingQdq(b.op(Op.Neg, [x]))).toBeUndefined();
  });
  it('alreadyQuantized names the first site and role whose edge carries a pair, in the order Q, K, V, past K, past V', () => {
    const m = buildAttentionGraph([block, block], [], { router: false, classifier: false }).model;
    const sites = findSites(m, ATTENTION_PATTERNS).sites;
    expect(alreadyQuantized(sites)).toBeUndefined();
    // quantize layer 1's K and V (not Q): its K is what is named, found through the guard
    const edges = quantEdges(planSites(group({ num_bits: 8, type: 'float', strategy: 'tensor' }), sites)).filter((e) => e.layer === 1 && e.role !== 'q');
    insertQdq(m, edges.map((edge) => ({ edge, qparams: { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) } })));
    const after = findSites(m, ATTENTION_PATTERNS).sites;
    const found = alreadyQuantized(after)!;
    expect([found.site.layer, found.role, found.tensor.name, found.quantize.name]).toEqual([1, 'K', 'attention.1/k/Guard_output', 'attention.1/k/QuantizeLinear']);
  });
});

describe('a pair on one tensor of an edge', () => {
  /** Q→DQ on only the named tensors of the MultiHeadAttention's edges, with scale 0.5. */
  function pairOn(m: Model, names: string[]): void {
    const edges = quantEdges(planSites(group({ num_bits: 8, type: 'float', strategy: 'tensor' }), findSites(m, ATTENTION_PATTERNS).sites));
    const only = edges.map((e) => ({ ...e, tensors: e.tensors.filter((t) => names.includes(t.value.name)) })).filter((e) => e.tensors.length > 0);
    insertQdq(m, only.map((edge) => ({ edge, qparams: { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) } })));
  }
  it('alreadyQuantized names it: Q, V, past K or past V', () => {
    for (const [tensor, role] of [['query', 'Q'], ['value', 'V'], ['past_key', 'past K'], ['past_value', 'past V']]) {
      const m = mha();
      pairOn(m, [tensor!]);
      const found = alreadyQuantized(findSites(m, ATTENTION_PATTERNS).sites);
      expect([found?.role, found?.quantize.inputs[0]!.name], tensor).toEqual([role, tensor]);
    }
  });
  it('makes its whole edge count as quantized: applying the rule set then adds no pair to the edge', () => {
    const m = mha();
    pairOn(m, ['past_key']);
    const { result } = apply(m, { num_bits: 8, type: 'float', strategy: 'attn_head' });
    // Q and V get theirs (query; value and past_value); K (key and past_key) is left as it is
    expect(result).toEqual({ modified: true, skipped: 1, inserted: 3 });
    expect([...m.graph.nodes].filter((n) => n.is(Op.QuantizeLinear)).map((n) => n.inputs[0]!.name).sort()).toEqual(['past_key', 'past_value', 'query', 'value']);
  });
});

describe('the opset and IR version the pairs need (never below the model\'s)', () => {
  const needs = (opset: number, ir: number, args: Record<string, unknown>, f16 = false) => {
    const m = buildAttentionGraph([block], [], { router: false, classifier: false }).model;
    m.opsetImports.set('', opset);
    m.irVersion = ir;
    const edges = quantEdges(planSites(group(args), findSites(m, ATTENTION_PATTERNS).sites));
    if (f16) for (const e of edges) for (const t of e.tensors) t.value.type = { kind: 'tensor', elemType: DataType.FLOAT16, shape: undefined };
    return qdqNeeds(m, edges.map((edge) => ({ edge, qparams: { scale: Float32Array.of(1), zeroPoint: Int32Array.of(0) } })));
  };
  it('per-axis int8 13 / IR 3 (kept at 17 / 8), float8 19 / 9, int4 21 / 10; float16 activations 19 / 9 whatever the type', () => {
    expect(needs(11, 6, { num_bits: 8, type: 'int', strategy: 'tensor' })).toEqual({ opset: 13, irVersion: 7 });
    expect(needs(17, 8, { num_bits: 8, type: 'int', strategy: 'tensor' })).toEqual({ opset: 17, irVersion: 8 });
    expect(needs(17, 8, { num_bits: 8, type: 'float', strategy: 'tensor' })).toEqual({ opset: 19, irVersion: 9 });
    expect(needs(17, 8, { num_bits: 4, type: 'int', strategy: 'tensor' })).toEqual({ opset: 21, irVersion: 10 });
    expect(needs(23, 11, { num_bits: 4, type: 'int', strategy: 'tensor' })).toEqual({ opset: 23, irVersion: 11 });
    expect(needs(17, 8, { num_bits: 8, type: 'int', strategy: 'tensor' }, true)).toEqual({ opset: 19, irVersion: 9 });
  });
});
