/**
 * An independent reference of compressed-tensors' mse clip search (mse_quant.py, reference/
 * compressed-tensors.md §5.1) for symmetric integer quantization, written from the documented
 * algorithm in plain float64 arithmetic, sharing no code with src/:
 *
 *   for i in range(int(maxshrink·grid)):  p = 1 − i/grid;  candidate (min·p, max·p)
 *     scale = max(|min(lo,0)|, |max(hi,0)|) / ((q_max − q_min)/2)
 *     err   = Σ |clamp(round_half_even(x/scale), q_min, q_max)·scale − x|^norm
 *   keep the first candidate with the least error; stop after `patience` steps without improvement
 */
export interface MseOptions {
  readonly bits: number;
  readonly maxshrink?: number;
  readonly grid?: number;
  readonly norm?: number;
  readonly patience?: number;
}

function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function referenceMseRange(values: ArrayLike<number>, min: number, max: number, o: MseOptions): [number, number] {
  const { bits, maxshrink = 0.2, grid = 100, norm = 2.4, patience = 5 } = o;
  const qMax = 2 ** (bits - 1) - 1;
  const qMin = -(2 ** (bits - 1));
  let best: [number, number] = [min, max];
  let bestErr = Infinity;
  let stale = 0;
  for (let i = 0; i < Math.floor(maxshrink * grid); i++) {
    const p = 1 - i / grid;
    const lo = min * p;
    const hi = max * p;
    const scale = Math.max(Math.abs(Math.min(lo, 0)), Math.abs(Math.max(hi, 0))) / ((qMax - qMin) / 2) || 2 ** -23;
    let err = 0;
    for (let k = 0; k < values.length; k++) {
      const x = values[k]!;
      const q = Math.min(qMax, Math.max(qMin, roundEven(x / scale)));
      err += Math.abs(q * scale - x) ** norm;
    }
    if (err < bestErr) {
      bestErr = err;
      best = [lo, hi];
      stale = 0;
    } else if (++stale >= patience) break;
  }
  return best;
}
