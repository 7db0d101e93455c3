/**
 * Scale and zero-point math exactly as compressed-tensors' calculate_qparams, in float32:
 *
 *   min = min(min, 0); max = max(max, 0)               (zero must be representable)
 *   symmetric:  scale = max(|min|, |max|) / ((q_max - q_min) / 2)     fp8: amax/448, int8: amax/127.5, int4: amax/7.5
 *   asymmetric: scale = (max - min) / (q_max - q_min);  zp = round(clamp(q_min - min/scale, q_min, q_max))
 *   an exact zero scale becomes the float32 epsilon (2^-23)
 *
 * and the quantize-dequantize it implies (clamp, then round: RNE to the float8 grid, or round
 * half to even for integers), used by tests as the reference and by the mse observer.
 */
import { DataType, decodeMinifloat, encodeMinifloat, roundHalfEven } from '../onnx/dtypes.js';
import type { QuantizationArgs } from './args.js';
import { quantRange } from './args.js';

export const FLOAT32_EPS = 2 ** -23;

export interface QParams {
  readonly scale: Float32Array;
  /** Integer zero points (all zero when symmetric). */
  readonly zeroPoint: Int32Array;
}

type Args = Pick<QuantizationArgs, 'num_bits' | 'type' | 'symmetric'>;

export function computeQParams(min: ArrayLike<number>, max: ArrayLike<number>, args: Args): QParams {
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
      const zp = s === 0 ? 0 : f(qMin - f(lo / s));
      zeroPoint[i] = Math.min(qMax, Math.max(qMin, roundHalfEven(Math.min(qMax, Math.max(qMin, zp)))));
    }
    scale[i] = s === 0 ? FLOAT32_EPS : s;
  }
  return { scale, zeroPoint };
}

/** Quantize-dequantize one value as compressed-tensors' fake_quantize (and ONNX Q→DQ) does. */
export function fakeQuantize(x: number, scale: number, zeroPoint: number, args: Args): number {
  const [qMin, qMax] = quantRange(args);
  const f = Math.fround;
  const t = f(f(x / scale) + zeroPoint);
  const clamped = Math.min(qMax, Math.max(qMin, t));
  const q = args.type === 'float' ? decodeMinifloat(DataType.FLOAT8E4M3FN, encodeMinifloat(DataType.FLOAT8E4M3FN, clamped)) : roundHalfEven(clamped);
  return f(f(q - zeroPoint) * scale);
}
