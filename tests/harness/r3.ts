/**
 * What the R3 tests (rotate-qk, center-k, their zoo runs) share: the rotation a rule set's R3
 * scheme plans for a site, its Hadamard block, and an onnxruntime run whose outputs come back as
 * float64 for comparing the rotated graph with the original.
 */
import type { ort } from '../../src/calibrate/ort.js';
import { createSession, ortToFloat64 } from '../../src/calibrate/ort.js';
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
