/**
 * Grouped-query forms: K and V are quantized before the repeat, with the key/value heads, and
 * the cache concatenated before the repeat is linked, whatever form the repeat takes.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import { findSites } from '../../../src/attention/find-sites.js';
import { intAttr, intsAttr } from '../../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../../src/ir/builder.js';
import type { Model } from '../../../src/ir/model.js';
import type { Value } from '../../../src/ir/value.js';
import { DataType } from '../../../src/ir/dtypes.js';
import { Op } from '../../../src/onnx/ops.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { loadRuleSet } from '../../../src/rules/load.js';
import { attentionReference, fp8PerAxis } from '../../harness/attention-reference.js';
import { H, decomposedBlock } from '../../harness/decomposed-block.js';
import { applyRules, run } from '../../harness/rewrite.js';

const E = 16;
const S = 3;
const P = 2;
const HQ = 4;
const HKV = 2;
const D = 4;

const weightValues = (name: string, out: number): number[] => Array.from({ length: E * out }, (_, i) => Math.sin(i * 0.37 + out + name.length) * 0.4 * (1 + (i % out) / out));

/** x·W as [heads, S, D] (x is [S, E], W [E, heads·D]). */
function project(x: Float32Array, name: string, heads: number): Float32Array {
  const width = heads * D;
  const wv = weightValues(name, width);
  const out = new Float32Array(heads * S * D);
  for (let i = 0; i < S; i++) {
    for (let c = 0; c < width; c++) {
      let acc = 0;
      for (let e = 0; e < E; e++) acc += x[i * E + e]! * wv[e * width + c]!;
      out[(Math.floor(c / D) * S + i) * D + (c % D)] = acc;
    }
  }
  return out;
}

/**
 * The ONNX Attention op (opset 23) behind a grouped-query repeat whose sizes are computed at
 * run time, as the dynamo exporter writes a dynamic-shape export: the cache past ⊕ new is
 * joined before the repeat; the past's declared dims are all symbolic, so the kv heads are known
 * only from before the repeat (k_proj's width over the head size).
 *
 *   past_key [batch, kv_heads, past, head_dim] ─┐
 *   x ─ MatMul(Wk [E, 2·D]) ─ Reshape([b, s, -1, D]) ─ Transpose ─ Concat(-2) ─▶ present_key
 *     └─ Unsqueeze(axes) ─ Expand(Concat(b, 2, Div(Hq, Hkv), T, D)) ─ Reshape(Concat(b, -1, T, D)) ─ Attention
 */
function attentionOpModel(unsqueezeAxis: number): Model {
  const m = emptyModel({ '': 23 }, 10);
  const b = new GraphBuilder(m);
  const x = b.input('x', DataType.FLOAT, ['batch', 'seq', E]);
  const w = (name: string, out: number): Value => b.constF32(name, [E, out], weightValues(name, out));
  const dim = (v: Value, i: number): Value => b.op(Op.Shape, [v], [intAttr('start', i), intAttr('end', i + 1)]);
  const heads = (y: Value): Value => {
    const shape = b.op(Op.Concat, [dim(x, 0), dim(x, 1), b.constI64(`m${y.name}`, [1], [-1]), b.constI64(`d${y.name}`, [1], [D])], [intAttr('axis', 0)]);
    return b.op(Op.Transpose, [b.op(Op.Reshape, [y, shape])], [intsAttr('perm', [0, 2, 1, 3])]);
  };
  const q = heads(b.op(Op.MatMul, [x, w('wq', HQ * D)]));
  const kvPart = (name: 'key' | 'value'): Value => {
    const past = b.input(`past_${name}`, DataType.FLOAT, ['batch', 'kv_heads', 'past', 'head_dim']);
    const cache = b.op(Op.Concat, [past, heads(b.op(Op.MatMul, [x, w(`w${name[0]}`, HKV * D)]))], [intAttr('axis', -2)]);
    b.output(cache, `present_${name}`);
    const groups = b.op(Op.Div, [dim(q, 1), dim(cache, 1)]);
    const e = b.op(Op.Expand, [b.op(Op.Unsqueeze, [cache, b.constI64(`ax_${name}`, [1], [unsqueezeAxis])]), b.op(Op.Concat, [dim(cache, 0), dim(cache, 1), groups, dim(cache, 2), dim(cache, 3)], [intAttr('axis', 0)])]);
    return b.op(Op.Reshape, [e, b.op(Op.Concat, [dim(cache, 0), b.constI64(`h_${name}`, [1], [-1]), dim(cache, 2), dim(cache, 3)], [intAttr('axis', 0)])]);
  };
  const y = b.node(Op.Attention, [q, kvPart('key'), kvPart('value')], [], { name: '/model/layers.0/self_attn/Attention' }).output(0);
  b.output(y, 'y');
  return m;
}

const cache = { pastKey: 'past_key', presentKey: 'present_key', pastValue: 'past_value', presentValue: 'present_value' };

describe('grouped-query attention: kv heads before the repeat, the cache linked', () => {
  it("the repeat's Reshape merged into dynamo's 3-D transpose of K (static-shape dynamo export)", () => {
    const { model } = decomposedBlock({ cache: 'input', repeat: true, mergedRepeat: true, keyLayout: 'BHSD3d' });
    const [site] = findSites(model, ATTENTION_PATTERNS).sites;
    expect([site!.numHeads, site!.numKvHeads]).toEqual([H, H / 2]);
    expect(site!.cache).toEqual(cache);
    expect([site!.k.value.name, site!.v.value.name]).toEqual(['present_key', 'present_value']);
  });

  for (const axis of [2, -3]) {
    it(`the ONNX Attention op behind a repeat sized at run time (Unsqueeze axis ${axis}): kv heads 2 before the repeat, not 4 after it`, () => {
      const [site] = findSites(attentionOpModel(axis), ATTENTION_PATTERNS).sites;
      expect(site!.pattern).toBe('onnx-attention');
      expect([site!.numHeads, site!.numKvHeads, site!.headDim]).toEqual([HQ, HKV, D]);
      expect(site!.cache).toEqual(cache);
      expect(site!.variant['groupedQueryRepeat']).toBe('repeat');
    });
  }

  it('fp8-kv-head on the Attention op behind the repeat: each kv head keeps its own scale for the query heads it serves (onnxruntime vs a reference)', async () => {
    const model = attentionOpModel(2);
    const scaleOf = (role: string, h: number): number => (role === 'k' ? 0.004 : 0.0027) * (h + 1) * (h + 1);
    const { edges } = applyRules(model, loadRuleSet('fp8-kv-head'), (e) => Array.from({ length: e.heads }, (_, h) => scaleOf(e.role, h)));
    expect(edges.map((e) => `${e.role}:${e.heads}`)).toEqual(['k:2', 'v:2']);
    const x = Float32Array.from({ length: S * E }, (_, i) => Math.cos(i * 0.53) * 1.1);
    const past = (seed: number): Float32Array => Float32Array.from({ length: HKV * P * D }, (_, i) => Math.sin(i * 0.71 + seed) * (1 + Math.floor(i / (P * D))));
    const f = (name: string, dims: number[], v: Float32Array): [string, Tensor] => [name, Tensor.fromFloat32(name, DataType.FLOAT, dims, v)];
    const out = await run(model, new Map([f('x', [1, S, E], x), f('past_key', [1, HKV, P, D], past(1)), f('past_value', [1, HKV, P, D], past(2))]));
    const T = P + S;
    const joined = (p: Float32Array, n: Float32Array): Float32Array => {
      const c = new Float32Array(HKV * T * D);
      for (let h = 0; h < HKV; h++) {
        c.set(p.subarray(h * P * D, (h + 1) * P * D), h * T * D);
        c.set(n.subarray(h * S * D, (h + 1) * S * D), h * T * D + P * D);
      }
      return c;
    };
    const quantized = (c: Float32Array, role: string): Float32Array => fp8PerAxis(c, [1, HKV, T, D], [scaleOf(role, 0), scaleOf(role, 1)], 1);
    const k = quantized(joined(past(1), project(x, 'wk', HKV)), 'k');
    const v = quantized(joined(past(2), project(x, 'wv', HKV)), 'v');
    expect(Array.from(out['present_key']!.data as Float32Array)).toEqual(Array.from(k));
    const want = attentionReference(project(x, 'wq', HQ), k, v, { groups: HQ, S, T, D, scale: 1 / Math.sqrt(D), kvGroup: (g) => Math.floor(g / (HQ / HKV)) });
    const got = Array.from(out['y']!.data as Float32Array);
    // the op writes [B, H, S, D] for 4-D inputs
    expect(got.length).toBe(want.length);
    want.forEach((wv, i) => expect(got[i]).toBeCloseTo(wv, 5));
  });
});
