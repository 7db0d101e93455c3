/**
 * Comparing onnxruntime outputs with expected tensors (stored ONNX test data, or another run),
 * with the backend tests' tolerance: |a − b| ≤ 1e-4 + 1e-3·|b|, NaN equal to NaN, exact dims.
 */
import type { ort } from '../../src/calibrate/ort.js';
import { ortToFloat64 } from '../../src/calibrate/ort.js';
import type { Tensor } from '../../src/ir/tensor.js';

/** Why `got` differs from `want`, or undefined when they agree. */
export function differsFromTensor(got: ort.Tensor | undefined, want: Tensor): string | undefined {
  if (got === undefined) return 'missing';
  if (JSON.stringify(got.dims) !== JSON.stringify(want.dims)) return `dims ${JSON.stringify(got.dims)} ≠ ${JSON.stringify(want.dims)}`;
  if (want.storage.kind === 'strings') {
    const w = want.storage.values.map((b) => Buffer.from(b).toString('utf8'));
    return JSON.stringify(w) === JSON.stringify(got.data) ? undefined : 'strings differ';
  }
  return differsFromValues(ortToFloat64(got), want.toFloat32());
}

/** Why `got` differs from another onnxruntime result `want`, or undefined when they agree. */
export function differsFromOrt(got: ort.Tensor | undefined, want: ort.Tensor): string | undefined {
  if (got === undefined) return 'missing';
  if (JSON.stringify(got.dims) !== JSON.stringify(want.dims)) return `dims ${JSON.stringify(got.dims)} ≠ ${JSON.stringify(want.dims)}`;
  if (want.type === 'string') return JSON.stringify(got.data) === JSON.stringify(want.data) ? undefined : 'strings differ';
  return differsFromValues(ortToFloat64(got), ortToFloat64(want));
}

function differsFromValues(g: ArrayLike<number>, w: ArrayLike<number>): string | undefined {
  if (g.length !== w.length) return `${g.length} values ≠ ${w.length}`;
  for (let k = 0; k < w.length; k++) {
    const a = g[k]!;
    const b = w[k]!;
    if ((Number.isNaN(a) && Number.isNaN(b)) || a === b) continue;
    if (!(Math.abs(a - b) <= 1e-4 + 1e-3 * Math.abs(b))) return `value ${k}: ${a} ≠ ${b}`;
  }
  return undefined;
}
