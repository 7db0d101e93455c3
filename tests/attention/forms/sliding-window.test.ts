/**
 * A sliding-window cache end to end: the site links present (a Slice of the cache's last
 * positions), fp8-kv-head quantizes K and V on the whole concatenated cache, and onnxruntime's
 * results equal a reference computed here from the inputs alone:
 *
 *   cache = concat(past, new) per kv head        (plain TypeScript)
 *   cacheq = DQ(Q(cache)), per head scale s_h     (tests/harness/qdq-reference.ts, float8e4m3fn)
 *   present = cacheq[:, :, -3:]                   the window: quantized values, the same grid
 *   y = softmax(0.6 · q · cacheqᵀ) · cacheq_v     the attention read the quantized cache
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import { findSites } from '../../../src/attention/find-sites.js';
import { DataType } from '../../../src/ir/dtypes.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { loadRuleSet } from '../../../src/rules/load.js';
import { D, H, decomposedBlock } from '../../harness/decomposed-block.js';
import { attentionReference, fp8PerAxis } from '../../harness/attention-reference.js';
import { applyRules, run } from '../../harness/rewrite.js';
import { quantizeCacheIo } from '../../../passes/cache-io.js';
import { floatBoundary } from '../../../src/decode/host-boundary.js';
import { elemTypeOf } from '../../../src/ir/types.js';
import { Op } from '../../../src/onnx/ops.js';
import type { Model } from '../../../src/ir/model.js';
import type { Site } from '../../../src/attention/site.js';

const S = 3;
const P = 2;
const T = P + S;
const W = 3;
/** Distinct per head, and for K and V. */
const scaleOf = (role: 'k' | 'v', h: number): number => (role === 'k' ? 0.011 : 0.017) * (h + 1);

/** Values with a per-head magnitude, off the fp8 grid. */
const values = (n: number, seed: number, perHead: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + seed * 2.11) * (1 + Math.floor(i / perHead)) * 0.9);

/** [1, H, a, D] ⊕ [1, H, b, D] on axis 2. */
function concatSeq(a: Float32Array, la: number, b: Float32Array, lb: number): Float32Array {
  const out = new Float32Array(H * (la + lb) * D);
  for (let h = 0; h < H; h++) {
    out.set(a.subarray(h * la * D, (h + 1) * la * D), h * (la + lb) * D);
    out.set(b.subarray(h * lb * D, (h + 1) * lb * D), h * (la + lb) * D + la * D);
  }
  return out;
}

const fp8PerHead = (x: Float32Array, role: 'k' | 'v'): Float32Array => fp8PerAxis(x, [1, H, T, D], Array.from({ length: H }, (_, h) => scaleOf(role, h)), 1);

describe('a sliding-window cache (present = the last positions of the concatenated cache)', () => {
  it('the site links present through the window Slice; a Slice of the first positions is not a window', () => {
    const [site] = findSites(decomposedBlock({ cache: 'input', window: 'steps' }).model, ATTENTION_PATTERNS).sites;
    expect(site!.cache).toEqual({ pastKey: 'past_key', presentKey: 'present_key', pastValue: 'past_value', presentValue: 'present_value' });
    expect(site!.variant['cache']).toBe('window');
    // the TorchScript form: the past cut to its window first, then joined, then cut again
    const [ts] = findSites(decomposedBlock({ cache: 'wrapped', pastWindow: 'steps', window: 'steps' }).model, ATTENTION_PATTERNS).sites;
    expect(ts!.cache).toEqual(site!.cache);
    const [miss] = findSites(decomposedBlock({ cache: 'input', window: 'steps', windowStart: 0 }).model, ATTENTION_PATTERNS).sites;
    expect(miss!.cache).toEqual({ pastKey: 'past_key', presentKey: null, pastValue: 'past_value', presentValue: null });
  });

  const quantized = (): { model: Model; sites: Site[] } => {
    const { model } = decomposedBlock({ cache: 'input', window: 'steps', windowStart: -W });
    const { sites } = findSites(model, ATTENTION_PATTERNS);
    const { result } = applyRules(model, loadRuleSet('fp8-kv-head'), (e) => Array.from({ length: e.heads }, (_, h) => scaleOf(e.role as 'k' | 'v', h)));
    expect(result.inserted).toBe(2);
    return { model, sites };
  };

  it('--cache-io quantized: present is the window quantized again with the cache\'s own scale (float8 output)', async () => {
    const { model, sites } = quantized();
    const { tensors } = quantizeCacheIo(model, sites);
    expect(tensors.map((t) => `${t.direction} ${t.name} ${t.type}`)).toEqual(['input past_key float8e4m3fn', 'input past_value float8e4m3fn', 'output present_key float8e4m3fn', 'output present_value float8e4m3fn']);
    const present = model.graph.outputs.find((v) => v.name === 'present_key')!;
    expect(elemTypeOf(present.type)).toBe(DataType.FLOAT8E4M3FN);
    expect(present.producer()!.is(Op.QuantizeLinear)).toBe(true);
    expect(present.producer()!.inputs[0]!.producer()!.is(Op.Slice)).toBe(true);
    // onnxruntime-node cannot pass float8 across its API: float at the boundary, float8 inside
    floatBoundary(model, (n) => /^(past|present)_/.test(n));
    await checkRun(model);
  });

  it('fp8-kv-head: present holds the window of the quantized cache, and the attention read that cache', async () => {
    await checkRun(quantized().model);
  });

  async function checkRun(model: Model): Promise<void> {
    const q = values(H * S * D, 1, S * D);
    const kNew = values(H * S * D, 2, S * D);
    const vNew = values(H * S * D, 3, S * D);
    const kPast = values(H * P * D, 4, P * D);
    const vPast = values(H * P * D, 5, P * D);
    const f = (name: string, dims: number[], x: Float32Array): [string, Tensor] => [name, Tensor.fromFloat32(name, DataType.FLOAT, dims, x)];
    const out = await run(
      model,
      new Map([f('q', [1, H, S, D], q), f('key_new', [1, H, S, D], kNew), f('value_new', [1, H, S, D], vNew), f('past_key', [1, H, P, D], kPast), f('past_value', [1, H, P, D], vPast)]),
    );
    const kq = fp8PerHead(concatSeq(kPast, P, kNew, S), 'k');
    const vq = fp8PerHead(concatSeq(vPast, P, vNew, S), 'v');
    const window = (x: Float32Array): number[] => Array.from({ length: H }, (_, h) => Array.from(x.subarray((h * T + T - W) * D, (h + 1) * T * D))).flat();
    expect(out['present_key']!.dims).toEqual([1, H, W, D]);
    expect(Array.from(out['present_key']!.data as Float32Array)).toEqual(window(kq));
    expect(Array.from(out['present_value']!.data as Float32Array)).toEqual(window(vq));
    // the window is not the float cache: quantization changed it
    expect(window(kq)).not.toEqual(window(concatSeq(kPast, P, kNew, S)));
    const y = Array.from(out['y']!.data as Float32Array);
    attentionReference(q, kq, vq, { groups: H, S, T, D, scale: 0.6 }).forEach((want, i) => expect(y[i]).toBeCloseTo(want, 5));
  }
});
