/**
 * Heads folded into the batch axis (BLOOM's baddbmm with ALiBi, DeBERTa's bmm with position
 * terms): attention over [B·H, S, D] batched matmuls, with a bias added to the folded scores.
 * With B = 2, the folded axis holds B·H = 6 rows, so a per-head scale placed on a folded tensor
 * could not be right; the site's Q, K and V must be the [B, H, S, D] tensors before the folds.
 *
 * Checked: the site takes the per-head tensors (K and V on the cache Concat), fp8-head puts
 * distinct per-head scales on each (one head of Q small enough to clip), and onnxruntime's
 * output equals attention computed here, per batch and head, on Q, K and V quantized per head
 * (qdq-reference.ts) plus the bias. A Q that reaches the batched matmul already folded is not
 * taken, and `inspect --explain` says there is no per-head tensor.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import { findSites } from '../../../src/attention/find-sites.js';
import { DataType } from '../../../src/ir/dtypes.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { loadRuleSet } from '../../../src/rules/load.js';
import { FD, FH, FOLDED_SCALES, FP, FS, foldedBlock } from '../../harness/folded-block.js';
import { dequantizeLinear, quantizeLinear } from '../../harness/qdq-reference.js';
import { applyRules, run } from '../../harness/rewrite.js';

const B = 2;
const T = FP + FS;

/** Distinct per head; head 2 of Q clips (|q| reaches 1.3, 448 · 0.0004 = 0.18). */
const SCALES: Record<string, number[]> = { q: [0.0031, 0.0062, 0.0004], k: [0.0047, 0.0021, 0.0083], v: [0.0023, 0.0069, 0.0041] };

const values = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 3.1 + i * 0.77) * 1.3);

/** DQ(Q(x)) in float8e4m3fn with one scale per head (axis 1 of [B, H, ·, D]), as onnxruntime computes it. */
function fp8PerHead(x: Float32Array, dims: readonly number[], scales: readonly number[]): Float32Array {
  const s = Float32Array.from(scales);
  const raw = quantizeLinear(x, dims, s, [s.length], undefined, DataType.FLOAT8E4M3FN, 1, 0, 'skip');
  return dequantizeLinear(raw, DataType.FLOAT8E4M3FN, dims, s, [s.length], undefined, 1, 0);
}

/** [B, H, past + new, D] from the past and new parts. */
function joined(past: Float32Array, fresh: Float32Array): Float32Array {
  const out = new Float32Array(B * FH * T * FD);
  for (let g = 0; g < B * FH; g++) {
    out.set(past.subarray(g * FP * FD, (g + 1) * FP * FD), g * T * FD);
    out.set(fresh.subarray(g * FS * FD, (g + 1) * FS * FD), (g * T + FP) * FD);
  }
  return out;
}

describe('attention with the heads folded into the batch axis', () => {
  it('takes the [B, H, S, D] tensors before the folds, the cache linked', () => {
    const { model, q, k, v } = foldedBlock({ batch: B, foldedBias: 'add', mask: 'add', cache: true });
    const { sites, rejected } = findSites(model, ATTENTION_PATTERNS);
    expect(rejected).toEqual([]);
    expect(sites.map((s) => [s.pattern, s.q!.value.name, s.k.value.name, s.v.value.name, s.numHeads, s.numKvHeads, s.headDim, s.q!.headAxis])).toEqual([
      ['folded-heads', q.name, k.name, v.name, FH, FH, FD, 1],
    ]);
    expect(sites[0]!.cache).toEqual({ pastKey: 'past_key', presentKey: 'present_key', pastValue: 'past_value', presentValue: 'present_value' });
  });

  it('fp8-head with distinct per-head scales: onnxruntime equals attention on the per-head quantized Q, K and V plus the bias', async () => {
    const { model } = foldedBlock({ batch: B, foldedBias: 'add', cache: true });
    const { edges } = applyRules(model, loadRuleSet('fp8-head'), (e) => SCALES[e.role]!);
    expect(edges.map((e) => `${e.role}:${e.heads}`)).toEqual(['q:3', 'k:3', 'v:3']);
    const x = {
      q: values(B * FH * FS * FD, 1),
      key_new: values(B * FH * FS * FD, 2),
      value_new: values(B * FH * FS * FD, 3),
      past_key: values(B * FH * FP * FD, 4),
      past_value: values(B * FH * FP * FD, 5),
      bias: values(B * FH * FS * T, 6),
    };
    const dims: Record<string, number[]> = {
      q: [B, FH, FS, FD],
      key_new: [B, FH, FS, FD],
      value_new: [B, FH, FS, FD],
      past_key: [B, FH, FP, FD],
      past_value: [B, FH, FP, FD],
      bias: [B * FH, FS, T],
    };
    const out = await run(model, new Map(Object.entries(x).map(([name, data]) => [name, Tensor.fromFloat32(name, DataType.FLOAT, dims[name]!, data)])));

    const q = fp8PerHead(x.q, [B, FH, FS, FD], SCALES['q']!);
    const k = fp8PerHead(joined(x.past_key, x.key_new), [B, FH, T, FD], SCALES['k']!);
    const v = fp8PerHead(joined(x.past_value, x.value_new), [B, FH, T, FD], SCALES['v']!);
    const want: number[] = [];
    for (let g = 0; g < B * FH; g++) {
      for (let i = 0; i < FS; i++) {
        const s = Array.from({ length: T }, (_, t) => {
          let dot = 0;
          for (let d = 0; d < FD; d++) dot += q[(g * FS + i) * FD + d]! * k[(g * T + t) * FD + d]!;
          return FOLDED_SCALES.folded * dot + x.bias[(g * FS + i) * T + t]!;
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let d = 0; d < FD; d++) want.push(e.reduce((acc, p, t) => acc + (p / sum) * v[(g * T + t) * FD + d]!, 0));
      }
    }
    const got = Array.from(out['y']!.data as Float32Array);
    expect(got.length).toBe(want.length);
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    // The present cache holds K quantized per head.
    const present = Array.from(out['present_key']!.data as Float32Array);
    expect(present).toEqual(Array.from(k));
  });

  it('a Q already folded to [B·H, S, D] is not taken: the reason says there is no per-head tensor', () => {
    const { model } = foldedBlock({ batch: B, query: 'alreadyFolded' });
    const { sites, rejected } = findSites(model, ATTENTION_PATTERNS);
    expect(sites).toEqual([]);
    expect(rejected.map((r) => r.op)).toEqual(['Softmax']);
    expect(rejected[0]!.reason).toMatch(/^folded-heads: Reshape .* folds q \(rank 3\) into a batched matmul operand: there is no \[B, H, S, D\] tensor with a head axis to quantize per head$/);
  });
});
