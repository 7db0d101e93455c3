/**
 * Heads not static in the graph: the head reshape takes runtime sizes, as the dynamo exporter
 * writes `view(*input_shape, -1, head_dim)` when the hidden states' shape is not known
 * statically (BERT-style encoders), and the number of heads is then read from the projection:
 *
 *   x (shape unknown) ─ MatMul(Wq [E, H·D]) ─ Add(bias [H·D]) ─ Reshape(Concat(Shape(x)[0:1], Shape(x)[1:2], [-1], [D])) ─ Transpose ─▶ Q
 *                     ─ MatMul(Wk [E, Hkv·D]) ─ Reshape(…) ─ Transpose ─ repeat_kv (Expand shape at run time) ─▶ K
 *
 * Checked: the site has H = 4 query heads and Hkv = 2 key/value heads (from Wq's and Wk's
 * widths), fp8-head puts 4 distinct scales on Q and 2 on K and V, and onnxruntime's output
 * equals attention computed here on the per-head quantized Q, K and V. When the head size is
 * not static either, the error says what was read.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import { findSites } from '../../../src/attention/find-sites.js';
import { intAttr, intsAttr } from '../../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../../src/ir/builder.js';
import type { Model } from '../../../src/ir/model.js';
import { Tensor } from '../../../src/ir/tensor.js';
import type { Value } from '../../../src/ir/value.js';
import { DataType } from '../../../src/ir/dtypes.js';
import { Op } from '../../../src/onnx/ops.js';
import { loadRuleSet } from '../../../src/rules/load.js';
import { attentionReference, fp8PerAxis } from '../../harness/attention-reference.js';
import { applyRules, run } from '../../harness/rewrite.js';

const E = 8;
const H = 4;
const HKV = 2;
const D = 2;
const S = 3;

const weights = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 0.5);

/** The block; `headSize`: 'constant' writes D in the reshape, 'runtime' takes it from another input's shape. */
function block(headSize: 'constant' | 'runtime'): { model: Model; wq: number[]; wk: number[]; wv: number[]; bq: number[] } {
  const model = emptyModel({ '': 17 });
  const b = new GraphBuilder(model);
  const x = b.input('x', DataType.FLOAT);
  const sizer = headSize === 'runtime' ? b.input('head_sizer', DataType.FLOAT) : undefined;
  const wq = weights(E * H * D, 1);
  const wk = weights(E * HKV * D, 2);
  const wv = weights(E * HKV * D, 3);
  const bq = weights(H * D, 4);
  const dim = (v: Value, i: number): Value => b.op(Op.Shape, [v], [intAttr('start', i), intAttr('end', i + 1)]);
  const heads = (y: Value): Value => {
    const last = sizer ? dim(sizer, 3) : b.constI64('d', [1], [D]);
    const shape = b.op(Op.Concat, [dim(x, 0), dim(x, 1), b.constI64('minus_one', [1], [-1]), last], [intAttr('axis', 0)]);
    return b.op(Op.Transpose, [b.op(Op.Reshape, [y, shape])], [intsAttr('perm', [0, 2, 1, 3])]);
  };
  const q = heads(b.op(Op.Add, [b.op(Op.MatMul, [x, b.constF32('wq', [E, H * D], wq)]), b.constF32('bq', [H * D], bq)]));
  const repeat = (t: Value): Value => {
    // the Expand shape from Shape at run time: the repeat factor is not a constant
    const shape = b.op(Op.Concat, [dim(t, 0), dim(t, 1), b.constI64(`rep${t.name}`, [1], [H / HKV]), dim(t, 2), dim(t, 3)], [intAttr('axis', 0)]);
    const e = b.op(Op.Expand, [b.op(Op.Unsqueeze, [t, b.constI64(`ax${t.name}`, [1], [2])]), shape]);
    return b.op(Op.Reshape, [e, b.op(Op.Concat, [dim(t, 0), b.constI64(`h${t.name}`, [1], [-1]), dim(t, 2), dim(t, 3)], [intAttr('axis', 0)])]);
  };
  const k = repeat(heads(b.op(Op.MatMul, [x, b.constF32('wk', [E, HKV * D], wk)])));
  const v = repeat(heads(b.op(Op.MatMul, [x, b.constF32('wv', [E, HKV * D], wv)])));
  const s = b.op(Op.Mul, [b.op(Op.MatMul, [q, b.op(Op.Transpose, [k], [intsAttr('perm', [0, 1, 3, 2])])]), b.constF32('scale', [], [0.7])]);
  b.output(b.op(Op.MatMul, [b.op(Op.Softmax, [s], [intAttr('axis', -1)]), v]), 'y');
  return { model, wq, wk, wv, bq };
}

/** x·W (+ bias) as [S, width], then as [heads, S, D]. */
function project(x: Float32Array, w: number[], width: number, bias?: number[]): Float32Array {
  const heads = width / D;
  const out = new Float32Array(heads * S * D);
  for (let i = 0; i < S; i++) {
    for (let c = 0; c < width; c++) {
      let acc = bias ? bias[c]! : 0;
      for (let e = 0; e < E; e++) acc += x[i * E + e]! * w[e * width + c]!;
      const h = Math.floor(c / D);
      out[(h * S + i) * D + (c % D)] = acc;
    }
  }
  return out;
}

const scaleOf = (role: string, h: number): number => ({ q: 0.0031, k: 0.0047, v: 0.0023 })[role]! * (h + 1);

describe('heads from the projection weights when the head reshape takes runtime sizes', () => {
  it('4 query heads from Wq [8, 8] and 2 key/value heads from Wk [8, 4], head size 2 from the reshape', () => {
    const [site] = findSites(block('constant').model, ATTENTION_PATTERNS).sites;
    expect([site!.numHeads, site!.numKvHeads, site!.headDim]).toEqual([H, HKV, D]);
  });

  it('fp8-head with distinct per-head scales: onnxruntime equals attention on the per-head quantized Q, K and V', async () => {
    const { model, wq, wk, wv, bq } = block('constant');
    const { edges } = applyRules(model, loadRuleSet('fp8-head'), (e) => Array.from({ length: e.heads }, (_, h) => scaleOf(e.role, h)));
    expect(edges.map((e) => `${e.role}:${e.heads}`)).toEqual(['q:4', 'k:2', 'v:2']);
    const x = Float32Array.from({ length: S * E }, (_, i) => Math.cos(i * 0.91) * 1.3);
    const out = await run(model, new Map([['x', Tensor.fromFloat32('x', DataType.FLOAT, [1, S, E], x)]]));
    const perHead = (t: Float32Array, role: string, n: number): Float32Array =>
      fp8PerAxis(t, [1, n, S, D], Array.from({ length: n }, (_, h) => scaleOf(role, h)), 1);
    const q = perHead(project(x, wq, H * D, bq), 'q', H);
    const k = perHead(project(x, wk, HKV * D), 'k', HKV);
    const v = perHead(project(x, wv, HKV * D), 'v', HKV);
    const want = attentionReference(q, k, v, { groups: H, S, T: S, D, scale: 0.7, kvGroup: (g) => Math.floor(g / (H / HKV)) });
    const got = Array.from(out['y']!.data as Float32Array);
    expect(got.length).toBe(want.length);
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
  });

  it('GPT-NeoX form: one projection [8, 3·H·D] reshaped to [b, s, -1, 3·D], Q, K and V cut from the last axis, partial rotary', () => {
    const model = emptyModel({ '': 17 });
    const b = new GraphBuilder(model);
    const x = b.input('x', DataType.FLOAT);
    const dim = (v: Value, i: number): Value => b.op(Op.Shape, [v], [intAttr('start', i), intAttr('end', i + 1)]);
    const qkv = b.op(Op.MatMul, [x, b.constF32('wqkv', [E, 3 * H * D], weights(E * 3 * H * D, 5))]);
    const shape = b.op(Op.Concat, [dim(x, 0), dim(x, 1), b.constI64('minus_one', [1], [-1]), b.constI64('three_d', [1], [3 * D])], [intAttr('axis', 0)]);
    const heads = b.op(Op.Transpose, [b.op(Op.Reshape, [qkv, shape])], [intsAttr('perm', [0, 2, 1, 3])]);
    const cut = (from: number, to: number, t: Value = heads): Value => b.op(Op.Slice, [t, b.constI64(`s${from}`, [1], [from]), b.constI64(`e${to}`, [1], [to]), b.constI64(`a${from}${to}`, [1], [3])]);
    // rotary on the first half of the head dimension only: rotated part ⊕ pass-through part
    const partialRotary = (t: Value): Value => b.op(Op.Concat, [b.op(Op.Mul, [cut(0, 1, t), b.constF32(`cos${t.name}`, [1, 1, 1, 1], [0.5])]), cut(1, D, t)], [intAttr('axis', -1)]);
    const q = partialRotary(cut(0, D));
    const k = partialRotary(cut(D, 2 * D));
    const v = cut(2 * D, 3 * D);
    const s = b.op(Op.MatMul, [q, b.op(Op.Transpose, [k], [intsAttr('perm', [0, 1, 3, 2])])]);
    b.output(b.op(Op.MatMul, [b.op(Op.Softmax, [s], [intAttr('axis', -1)]), v]), 'y');
    const [site] = findSites(model, ATTENTION_PATTERNS).sites;
    // 3·H·D / 3·D: not 3·H·D / D = 12
    expect([site!.numHeads, site!.numKvHeads]).toEqual([H, H]);
  });

  it('without a static head size either, the error names the projection widths it read', () => {
    expect(() => findSites(block('runtime').model, ATTENTION_PATTERNS)).toThrow(/query heads .*from the projection: \S+ is 8 wide \(from its static shape\), but the last size of the head Reshape \S+ is not static either.*key\/value heads .*is 4 wide \(from wk \[8, 4\]\), but the last size of the head Reshape \S+ is not static either/);
  });
});
