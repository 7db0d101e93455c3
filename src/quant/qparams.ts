/**
 * Scale and zero-point math exactly as compressed-tensors' calculate_qparams, in float32:
 *
 *   min = min(min, 0); max = max(max, 0)               (zero must be representable)
 *   symmetric:  scale = max(|min|, |max|) / ((q_max - q_min) / 2)     fp8: amax/448, int8: amax/127.5, int4: amax/7.5
 *   asymmetric: scale = (max - min) / (q_max - q_min);  zp = round(clamp(q_min - min/scale, q_min, q_max))
 *   an exact zero scale becomes the epsilon of the scale's dtype (float32 2^-23, float16 2^-10, bfloat16 2^-7)
 *
 * Scales live in the activation's float type (compressed-tensors keeps them in the model dtype).
 * A scale that the type cannot hold as a normal number (NaN, ±Inf, zero, negative, subnormal)
 * is refused by `scaleProblem`: QuantizeLinear would divide by it.
 *
 * and the quantize-dequantize it implies (clamp, then round: RNE to the float8 grid, or round
 * half to even for integers), used by tests as the reference and by the mse observer.
 */
import { DataType, decodeMinifloat, encodeMinifloat, roundHalfEven } from '../ir/dtypes.js';
import type { QuantizationArgs } from './args.js';
import { quantRange } from './args.js';

export const FLOAT32_EPS = 2 ** -23;

/** The float types a scale is stored in, with the limits a scale must respect in each. */
export type ScaleType = typeof DataType.FLOAT | typeof DataType.FLOAT16 | typeof DataType.BFLOAT16;
const SCALE_TYPES = {
  [DataType.FLOAT]: { name: 'float32', eps: FLOAT32_EPS, tiny: 2 ** -126, max: 3.4028234663852886e38 },
  [DataType.FLOAT16]: { name: 'float16', eps: 2 ** -10, tiny: 2 ** -14, max: 65504 },
  [DataType.BFLOAT16]: { name: 'bfloat16', eps: 2 ** -7, tiny: 2 ** -126, max: 3.3895313892515355e38 },
} as const;

export interface QParams {
  readonly scale: Float32Array;
  /** Integer zero points (all zero when symmetric). */
  readonly zeroPoint: Int32Array;
}

type Args = Pick<QuantizationArgs, 'num_bits' | 'type' | 'symmetric'>;

export function computeQParams(min: ArrayLike<number>, max: ArrayLike<number>, args: Args, scaleType: ScaleType = DataType.FLOAT): QParams {
  const [qMin, qMax] = quantRange(args);
  const f = Math.fround;
  const bitRange = f(qMax - qMin);
  const n = min.length;
  const scale = new Float32Array(n);
  const zeroPoint = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.min(min[i]!, 0);
    const hi = Math.max(max[i]!, 0);
    let s: number;
    if (args.symmetric) {
      const amax = Math.max(Math.abs(lo), Math.abs(hi));
      s = f(amax / f(bitRange / 2));
    } else {
      if (args.type === 'float') throw new RangeError('asymmetric float quantization is not supported');
      s = f(f(hi - lo) / bitRange);
      // s is 0 only when min = max = 0 (float32 statistics): the zero point of an all-zero range is 0
      const zp = s === 0 ? 0 : f(qMin - f(lo / s));
      zeroPoint[i] = Math.min(qMax, Math.max(qMin, roundHalfEven(Math.min(qMax, Math.max(qMin, zp)))));
    }
    scale[i] = s === 0 ? SCALE_TYPES[scaleType].eps : s;
  }
  return { scale, zeroPoint };
}

/** The value an exact zero scale becomes in this type (its epsilon, as compressed-tensors' _get_dtype_eps). */
export function zeroScaleReplacement(scaleType: ScaleType): number {
  return SCALE_TYPES[scaleType].eps;
}

/** Why `s` cannot be a scale stored as `scaleType`, or undefined when it can. */
export function scaleProblem(s: number, scaleType: ScaleType = DataType.FLOAT): string | undefined {
  const t = SCALE_TYPES[scaleType];
  if (Number.isNaN(s)) return 'NaN';
  if (s < 0) return 'negative';
  if (s === 0) return 'zero';
  if (s > t.max) return `past the largest ${t.name} (${t.max}), so infinite`;
  if (s < t.tiny) return `subnormal in ${t.name} (below its smallest normal number, ${t.tiny.toExponential(3)})`;
  return undefined;
}

/** Quantize-dequantize one value as compressed-tensors' fake_quantize (and ONNX Q→DQ) does. */
export function fakeQuantize(x: number, scale: number, zeroPoint: number, args: Args): number {
  return fakeQuantizer(scale, zeroPoint, args)(x);
}

/**
 * fakeQuantize with its scale, zero point and args fixed: the range and the rounding are looked
 * up once, for the loops that quantize many values alike (the mse observer's search).
 */
export function fakeQuantizer(scale: number, zeroPoint: number, args: Args): (x: number) => number {
  const [qMin, qMax] = quantRange(args);
  const f = Math.fround;
  const round = args.type === 'float' ? (v: number) => decodeMinifloat(DataType.FLOAT8E4M3FN, encodeMinifloat(DataType.FLOAT8E4M3FN, v)) : roundHalfEven;
  return (x) => {
    const t = f(f(x / scale) + zeroPoint);
    const clamped = Math.min(qMax, Math.max(qMin, t));
    return f(f(round(clamped) - zeroPoint) * scale);
  };
}
