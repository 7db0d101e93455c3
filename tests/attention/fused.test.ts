/**
 * Fused attention ops: the ONNX Attention op with its cache inside (backend test models),
 * com.microsoft MultiHeadAttention and GroupQueryAttention (built here, run by onnxruntime),
 * com.microsoft Attention (recognized, never taken, with the reason); and cross-attention.
 *
 * For ops that concatenate the cache themselves, QDQ goes on the past and the new K/V, so the
 * present outputs hold values on the quantization grid.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { intAttr, intsAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { contribAttentionModel } from '../harness/fused-op.js';
import { NODE_TESTS } from '../harness/paths.js';
import { applyRules, run } from '../harness/rewrite.js';
import { readTensors, testDataSets } from '../harness/test-data.js';

const inputsOf = (model: Model, dir: string): Map<string, Tensor> => {
  const tensors = readTensors(testDataSets(dir)[0]!, 'input');
  return new Map(model.graph.inputs.map((v, i) => [v.name, tensors[i]!]));
};

/** Every value of `xs` is k·s for an integer k in [-127, 127] (int8 QDQ with scale s, per head). */
function onInt8Grid(xs: Float32Array, dims: readonly number[], headAxis: number, scales: number[]): boolean {
  const inner = dims.slice(headAxis + 1).reduce((a, b) => a * b, 1);
  return Array.from(xs).every((x, i) => {
    const s = scales[Math.floor(i / inner) % dims[headAxis]!]!;
    const k = Math.fround(x / s);
    return Math.abs(k - Math.round(k)) < 1e-3 && Math.abs(k) <= 128;
  });
}

describe('the ONNX Attention op with past_key/past_value (cache inside the op)', () => {
  for (const name of ['test_attention_4d_with_past_and_present', 'test_attention_4d_gqa_with_past_and_present', 'test_attention_3d_gqa_with_past_and_present']) {
    it(`${name}: QDQ on past and new K/V; present holds quantized values; Y stays close`, async () => {
      const dir = join(NODE_TESTS, name);
      const original = loadModel(join(dir, 'model.onnx'));
      const model = loadModel(join(dir, 'model.onnx'));
      const [site] = findSites(model, ATTENTION_PATTERNS).sites;
      expect(site!.cache).toEqual({ pastKey: 'past_key', presentKey: 'present_key', pastValue: 'past_value', presentValue: 'present_value' });
      expect(site!.kPast?.value.name).toBe('past_key');
      // every head its own scale, so a head-order mistake moves values off their grid
      const kvScales = Array.from({ length: site!.numKvHeads }, (_, h) => 0.01 * (h + 1));
      const { edges } = applyRules(model, loadRuleSet('int8-head'), (e) => (e.role === 'q' ? Array.from({ length: e.heads }, (_, h) => 0.05 * (h + 1)) : e.role === 'k' ? kvScales : kvScales.map((x) => x * 1.5)));
      expect(edges.map((e) => [e.role, e.tensors.length])).toEqual([
        ['q', 1],
        ['k', 2],
        ['v', 2],
      ]);
      const inputs = inputsOf(original, dir);
      const before = await run(original, inputs);
      const after = await run(model, inputs);
      const present = after['present_key']!;
      expect(onInt8Grid(present.data as Float32Array, present.dims as number[], 1, kvScales)).toBe(true);
      expect(onInt8Grid(present.data as Float32Array, present.dims as number[], 1, [...kvScales].reverse())).toBe(false);
      expect(onInt8Grid(before['present_key']!.data as Float32Array, present.dims as number[], 1, kvScales)).toBe(false);
      const presentValue = after['present_value']!;
      expect(onInt8Grid(presentValue.data as Float32Array, presentValue.dims as number[], 1, kvScales.map((x) => x * 1.5))).toBe(true);
      const y0 = before['Y']!.data as Float32Array;
      const y1 = after['Y']!.data as Float32Array;
      const maxErr = Math.max(...Array.from(y0, (v, i) => Math.abs(v - y1[i]!)));
      expect(maxErr).toBeGreaterThan(0);
      expect(maxErr).toBeLessThan(0.1);
    });
  }
});

describe('com.microsoft fused attention', () => {
  for (const op of ['mha', 'gqa'] as const) {
    it(`${op === 'mha' ? 'MultiHeadAttention' : 'GroupQueryAttention'}: a site with heads from attributes, packed Q/K/V, cache inside; the rewrite runs`, async () => {
      const { model, inputs } = contribAttentionModel(op);
      const { sites } = findSites(model, ATTENTION_PATTERNS);
      expect(sites.length).toBe(1);
      const s = sites[0]!;
      expect([s.pattern, s.numHeads, s.numKvHeads, s.headDim]).toEqual([op === 'mha' ? 'ms-multi-head-attention' : 'ms-group-query-attention', 4, op === 'gqa' ? 2 : 4, 8]);
      expect([s.q!.layout, s.q!.headAxis, s.k.layout, s.kPast!.layout]).toEqual(['BSE', 2, 'BSE', 'BHSD']);
      const before = await run(model, inputs);
      const qScales = [0.05, 0.1, 0.15, 0.2];
      const kvScales = Array.from({ length: s.numKvHeads }, (_, h) => 0.03 * (h + 1));
      applyRules(model, loadRuleSet('int8-head'), (e) => (e.role === 'q' ? qScales : kvScales));
      // packed tensors carry each head's scale repeated head_dim times, in head order
      const packed = model.graph.initializers.find((v) => v.name.endsWith('.q_scale_packed'))!;
      expect(Array.from(packed.initializer!.toFloat32())).toEqual(qScales.flatMap((x) => new Array(8).fill(Math.fround(x))));
      const after = await run(model, inputs);
      const present = after['present_key']!;
      expect(onInt8Grid(present.data as Float32Array, present.dims as number[], 1, kvScales)).toBe(true);
      expect(onInt8Grid(present.data as Float32Array, present.dims as number[], 1, [...kvScales].reverse())).toBe(false);
      const y0 = before['y']!.data as Float32Array;
      const y1 = after['y']!.data as Float32Array;
      const err = Math.max(...Array.from(y0, (v, i) => Math.abs(v - y1[i]!)));
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(0.1);
    });
  }

  it('com.microsoft Attention (packed weights) is recognized and not taken, with the reason', () => {
    const m = emptyModel({ '': 17, 'com.microsoft': 1 });
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [1, 3, 16]);
    const w = b.constF32('w', [16, 48], new Array(16 * 48).fill(0.01));
    const bias = b.constF32('bias', [48], new Array(48).fill(0));
    b.output(b.op(Op.MsAttention, [x, w, bias], [intAttr('num_heads', 2)], 'packed_attention'), 'y');
    const { sites, rejected } = findSites(m, ATTENTION_PATTERNS);
    expect(sites).toEqual([]);
    expect(rejected).toEqual([{ node: 'packed_attention', op: 'com.microsoft::Attention', reason: expect.stringMatching(/computes Q, K and V inside the op from packed weights/) }]);
  });
});

describe('cross-attention', () => {
  it('K and V projected from another input than Q make a "cross" site', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [1, 3, 8]);
    const enc = b.input('encoder_hidden_states', DataType.FLOAT, [1, 5, 8]);
    const proj = (from: typeof x, name: string) =>
      b.op(Op.Transpose, [b.op(Op.Reshape, [b.op(Op.MatMul, [from, b.constF32(name, [8, 8], new Array(64).fill(0.1))]), b.constI64(`${name}_shape`, [4], [0, 0, 2, 4])])], [intsAttr('perm', [0, 2, 1, 3])]);
    const q = proj(x, 'wq');
    const k = proj(enc, 'wk');
    const v = proj(enc, 'wv');
    const p = b.op(Op.Softmax, [b.op(Op.MatMul, [q, b.op(Op.Transpose, [k], [intsAttr('perm', [0, 1, 3, 2])])])], [intAttr('axis', -1)]);
    b.output(b.op(Op.MatMul, [p, v]), 'y');
    const { sites } = findSites(m, ATTENTION_PATTERNS);
    expect(sites.map((s) => [s.kind, s.numHeads, s.numKvHeads, s.headDim, s.cache])).toEqual([['cross', 2, 2, 4, null]]);
  });
});
