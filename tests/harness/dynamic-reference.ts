/**
 * compressed-tensors' dynamic group quantization in float64, written out from its documented
 * formulas (shared/docs/reference/compressed-tensors.md §2.1 calculate_qparams, §2.2
 * compute_dynamic_scales_and_zp, strategy group) and not from src/quant/qparams.ts, for checking
 * what insert-dynamic-qdq builds. Per group of g consecutive values of the LAST axis (per batch,
 * head, token and group of a (B, H, S, D) tensor):
 *
 *   lo = min(min x, 0), hi = max(max x, 0)
 *   symmetric:  s = max(|lo|, |hi|) / ((q_max − q_min)/2), zp = 0
 *   asymmetric: s = (hi − lo) / (q_max − q_min),  zp = round_half_even(clamp(q_min − lo/s, q_min, q_max))
 *   s = 0 (an all-zero group) ─▶ float32's epsilon 2^-23, zp 0
 *   q = clamp(round_half_even(x/s) + zp, q_min, q_max)     (ONNX rounds, then adds zp)
 *   out = (q − zp)·s
 *
 * Where x/s (or a group's q_min − lo/s) lies within float32 error of a .5 tie, float32 arithmetic
 * may round the other way: such elements carry the other code's value, such groups are listed,
 * and `mismatches` accepts either.
 */

export interface Scheme {
  readonly bits: number;
  readonly symmetric: boolean;
  readonly groupSize: number;
}

export const FLOAT32_EPS = 2 ** -23;

/** How near to a .5 tie a quotient may be before float32 arithmetic may round it the other way. */
const TIE = 1e-4;

export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const nearTie = (v: number): boolean => Math.abs(v - Math.floor(v) - 0.5) < TIE;

export const intRange = (bits: number): [number, number] => [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];

export interface DynamicReference {
  /** The dequantized values. */
  readonly out: Float64Array;
  /** Where x/s is within float32 error of a tie that moves the code: the other code's value; NaN elsewhere. */
  readonly other: Float64Array;
  /** Per group. */
  readonly scale: Float64Array;
  readonly zeroPoint: Float64Array;
  /** Groups whose q_min − lo/s is within float32 error of a tie: their zero point may be either. */
  readonly zeroPointTies: readonly number[];
}

export function dynamicReference(x: ArrayLike<number>, s: Scheme): DynamicReference {
  const [qMin, qMax] = intRange(s.bits);
  const g = s.groupSize;
  const groups = x.length / g;
  if (!Number.isInteger(groups)) throw new Error(`${x.length} values are not whole groups of ${g}`);
  const out = new Float64Array(x.length);
  const other = new Float64Array(x.length).fill(Number.NaN);
  const scale = new Float64Array(groups);
  const zeroPoint = new Float64Array(groups);
  const zeroPointTies: number[] = [];
  for (let j = 0; j < groups; j++) {
    let lo = 0;
    let hi = 0;
    for (let i = j * g; i < (j + 1) * g; i++) {
      lo = Math.min(lo, x[i]!);
      hi = Math.max(hi, x[i]!);
    }
    let sc = s.symmetric ? Math.max(-lo, hi) / ((qMax - qMin) / 2) : (hi - lo) / (qMax - qMin);
    let zp = 0;
    if (sc === 0) sc = FLOAT32_EPS;
    else if (!s.symmetric) {
      const shifted = qMin - lo / sc;
      if (nearTie(shifted)) zeroPointTies.push(j);
      zp = roundHalfEven(clamp(shifted, qMin, qMax));
    }
    scale[j] = sc;
    zeroPoint[j] = zp;
    const dq = (code: number): number => (clamp(code + zp, qMin, qMax) - zp) * sc;
    for (let i = j * g; i < (j + 1) * g; i++) {
      const t = x[i]! / sc;
      out[i] = dq(roundHalfEven(t));
      if (nearTie(t)) {
        const [a, b] = [dq(Math.floor(t)), dq(Math.floor(t) + 1)];
        if (a !== b) other[i] = a === out[i] ? b : a;
      }
    }
  }
  return { out, other, scale, zeroPoint, zeroPointTies };
}

/**
 * Where `got` (float32 results) is neither the reference nor, at a tie, the other code's value,
 * to float32 rounding (1e-6 relative); the elements of zero-point-tie groups are not compared.
 */
export function mismatches(got: ArrayLike<number>, want: DynamicReference, groupSize: number): string[] {
  if (got.length !== want.out.length) return [`${got.length} values, expected ${want.out.length}`];
  const skip = new Set(want.zeroPointTies);
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.abs(b);
  const bad: string[] = [];
  for (let i = 0; i < got.length; i++) {
    if (skip.has(Math.floor(i / groupSize))) continue;
    const v = got[i]!;
    if (!close(v, want.out[i]!) && !(Number.isFinite(want.other[i]!) && close(v, want.other[i]!))) bad.push(`[${i}] ${v} ≠ ${want.out[i]}`);
  }
  return bad;
}
