/**
 * What the R3 tests (rotate-qk, center-k, their zoo runs) share: the rotation a rule set's R3
 * scheme plans for a site, its Hadamard block, and an onnxruntime run whose outputs come back as
 * float64 for comparing the rotated graph with the original, on sine feeds.
 */
import { createSession, ort, ortToFloat64 } from '../../src/calibrate/ort.js';
import type { Model } from '../../src/ir/model.js';
import { encodeModel } from '../../src/onnx/serde.js';
import type { SiteRotation } from '../../src/rules/targets.js';

/** The SiteRotation of llm-compressor's R3 (deterministic Hadamard) with blocks of `block` rows. */
export const r3Rotation = (block: number, precision: 'torch.float32' | 'torch.float64' = 'torch.float32'): SiteRotation => ({
  scheme: 'R3',
  args: { type: 'hadamard', apply: [], randomize: false, requires_grad: false, head_dim: block, precision },
});

/** The largest power of two dividing the head dim: the block a head dim such as 48 takes (16). */
export const powerOfTwoBlock = (headDim: number): number => headDim & -headDim;

/** Every output of `model` (or of its bytes) on `feeds`, optimizations off, one thread, as float64. */
export async function runAsFloat64(model: Model | Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float64Array>> {
  const bytes = model instanceof Uint8Array ? model : Buffer.concat(encodeModel(model).chunks);
  const s = await createSession(bytes, { optimization: 'disabled', intraOpThreads: 1 });
  try {
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, ortToFloat64(v)]));
  } finally {
    await s.release();
  }
}

/** A float32 feed for every graph input of `model`, its values a sine over the elements (distinct per position). */
export function sineFeeds(model: Model): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph.inputs) {
    if (v.initializer !== undefined) continue;
    const dims = (v.type?.kind === 'tensor' ? v.type.shape ?? [] : []).map((d) => Number(d));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[v.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + dims.length)), dims);
  }
  return feeds;
}
