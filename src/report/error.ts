/**
 * The quantization error a chosen scale gives one head, from its calibration statistics alone:
 *
 *   observed range [min, max] of the head ─▶ values assumed spread evenly over it (the statistics
 *   keep no histogram) ─▶ each quantized and dequantized as the model will (fakeQuantize) ─▶
 *   mean squared error, and SQNR = 10·log10(mean x² / mean error²) in dB
 *
 * For a symmetric int8 scale s = amax/127.5 this is the textbook uniform-noise figure
 * (error power s²/12 against signal power amax²/3, 48.1 dB); for float8 it is about 30 dB while
 * the range stays in e4m3's normal numbers. What makes a head stand out is a scale that does not
 * fit it: a per-tensor scale set by another head's outlier (few levels left for this head), or an
 * mse clip that cuts into the range (clipped values dominate the error). The page states this
 * assumption beside the figures.
 */
import type { QuantizationArgs } from '../quant/args.js';
import { fakeQuantize } from '../quant/qparams.js';

const SAMPLES = 4096;

export interface HeadError {
  /** Signal-to-quantization-noise ratio in dB (Infinity when the range is a single value). */
  readonly sqnrDb: number;
  /** Mean squared error over the range, in the tensor's units. */
  readonly mse: number;
}

export function headError(min: number, max: number, scale: number, zeroPoint: number, args: Pick<QuantizationArgs, 'num_bits' | 'type' | 'symmetric'>): HeadError {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < SAMPLES; i++) {
    // Midpoints of SAMPLES equal slices of [min, max]: deterministic, and never the exact edges.
    const x = min + ((i + 0.5) / SAMPLES) * (max - min);
    const e = x - fakeQuantize(x, scale, zeroPoint, args);
    signal += x * x;
    noise += e * e;
  }
  const mse = noise / SAMPLES;
  return { mse, sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise) };
}
