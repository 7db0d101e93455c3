/**
 * Scale math against compressed-tensors' own test vectors (test_static_lifecycle.py,
 * reference/compressed-tensors.md §7.2): input arange(24) as [B=1, H=2, S=3, D=4], int4
 * symmetric. Our model is float32, so scales are not rounded to bfloat16 as there; the
 * quantized levels are the same and the values are level × scale.
 */
import { describe, expect, it } from 'vitest';
import { reduceObserver, mseRange } from '../../src/calibrate/observers.js';
import type { Batch } from '../../src/calibrate/stats.js';
import type { QuantizationArgs } from '../../src/quant/args.js';
import { DataType } from '../../src/ir/dtypes.js';
import { FLOAT32_EPS, computeQParams, fakeQuantize, scaleProblem, zeroScaleReplacement } from '../../src/quant/qparams.js';
import { quantArgs } from '../harness/fixtures.js';
import { referenceMseRange } from '../harness/mse-reference.js';

const args = (o: Partial<QuantizationArgs>): QuantizationArgs => quantArgs({ num_bits: 4, ...o });

const x = Array.from({ length: 24 }, (_, i) => i);
const head = (h: number): number[] => x.slice(h * 12, h * 12 + 12);

describe('compressed-tensors attention test vectors (int4 symmetric)', () => {
  it('per tensor: scale 23/7.5, levels 0,0,1,1,1,2,2,2,3,3,3,4 | 4,4,5,5,5,6,6,6,7,7,7,7 (clamped at +7)', () => {
    const a = args({ strategy: 'tensor' });
    const { scale, zeroPoint } = computeQParams([0], [23], a);
    expect(scale[0]).toBe(Math.fround(23 / 7.5));
    expect(zeroPoint[0]).toBe(0);
    const levels = x.map((v) => Math.round(fakeQuantize(v, scale[0]!, 0, a) / scale[0]!));
    expect(levels).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7]);
    const mse = x.reduce((s, v) => s + (fakeQuantize(v, scale[0]!, 0, a) - v) ** 2, 0) / 24;
    expect(mse).toBeLessThanOrEqual(0.81);
  });

  it('per head (attn_head): scales 11/7.5 and 23/7.5; head 0 levels 0,1,1,2,3,3,4,5,5,6,7,7', () => {
    const a = args({ strategy: 'attn_head' });
    const { scale } = computeQParams([0, 12], [11, 23], a);
    expect(Array.from(scale)).toEqual([Math.fround(11 / 7.5), Math.fround(23 / 7.5)]);
    expect(head(0).map((v) => Math.round(fakeQuantize(v, scale[0]!, 0, a) / scale[0]!))).toEqual([0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7]);
    expect(head(1).map((v) => Math.round(fakeQuantize(v, scale[1]!, 0, a) / scale[1]!))).toEqual([4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 7]);
    const mse = [...head(0).map((v) => (fakeQuantize(v, scale[0]!, 0, a) - v) ** 2), ...head(1).map((v) => (fakeQuantize(v, scale[1]!, 0, a) - v) ** 2)].reduce((s, e) => s + e, 0) / 24;
    expect(mse).toBeLessThanOrEqual(0.55);
  });
});

describe('scale divisors and edge cases', () => {
  it('fp8 amax/448, int8 amax/127.5, int4 amax/7.5; min and max widened to include 0', () => {
    expect(computeQParams([-1], [448], args({ type: 'float', num_bits: 8 })).scale[0]).toBe(1);
    expect(computeQParams([-255], [3], args({ num_bits: 8 })).scale[0]).toBe(2);
    expect(computeQParams([2], [15], args({ num_bits: 4 })).scale[0]).toBe(2);
    expect(computeQParams([-15], [-2], args({ num_bits: 4 })).scale[0]).toBe(2);
  });
  it("a zero scale becomes the epsilon of the scale's dtype (torch.finfo(dtype).eps), which is a normal number", () => {
    const a = args({ type: 'float', num_bits: 8 });
    expect(computeQParams([0], [0], a).scale[0]).toBe(FLOAT32_EPS);
    expect(computeQParams([0], [0], a, DataType.FLOAT16).scale[0]).toBe(2 ** -10);
    expect(computeQParams([0], [0], a, DataType.BFLOAT16).scale[0]).toBe(2 ** -7);
    expect(scaleProblem(FLOAT32_EPS)).toBeUndefined();
    expect(scaleProblem(2 ** -10, DataType.FLOAT16)).toBeUndefined();
    expect(scaleProblem(2 ** -7, DataType.BFLOAT16)).toBeUndefined();
  });
  it('asymmetric float quantization is refused (compressed-tensors has no float zero-point grid)', () => {
    expect(() => computeQParams([-1], [1], args({ type: 'float', num_bits: 8, symmetric: false }))).toThrow(/^asymmetric float quantization is not supported$/);
  });
  it('asymmetric int8: scale (max-min)/255, zp = round(-128 - min/scale)', () => {
    const { scale, zeroPoint } = computeQParams([-1], [3], args({ num_bits: 8, symmetric: false }));
    expect(scale[0]).toBe(Math.fround(4 / 255));
    expect(zeroPoint[0]).toBe(Math.round(-128 + 1 / Math.fround(4 / 255)));
    // the range's ends survive quantize-dequantize to within half a step
    expect(Math.abs(fakeQuantize(-1, scale[0]!, zeroPoint[0]!, args({ num_bits: 8, symmetric: false })) + 1)).toBeLessThanOrEqual(scale[0]! / 2);
  });
  it('fp8 quantize-dequantize: clamp at ±448·s, then round to the e4m3 grid', () => {
    const a = args({ type: 'float', num_bits: 8 });
    expect(fakeQuantize(1000, 1, 0, a)).toBe(448);
    expect(fakeQuantize(1.0625, 1, 0, a)).toBe(1); // tie to even
    expect(fakeQuantize(0.3, 0.5, 0, a)).toBe(0.3125); // 0.6 -> 0.625 on the grid, × 0.5
  });
});

describe('observers (llm-compressor semantics)', () => {
  const batches: Batch[] = [
    { set: 'a', edges: [{ min: [-1, -4], max: [2, 1] }] },
    { set: 'b', edges: [{ min: [-3, -2], max: [1, 5] }] },
    { set: 'c', edges: [{ min: [-2, -1], max: [4, 2] }] },
  ];
  it('static_minmax: min of mins, max of maxes, per head', () => {
    expect(reduceObserver(batches, 0, args({ strategy: 'attn_head' }))).toEqual({ min: [-3, -4], max: [4, 5] });
  });
  it('static_minmax per tensor reduces over heads first', () => {
    expect(reduceObserver(batches, 0, args({}))).toEqual({ min: [-4], max: [5] });
  });
  it('a dynamic edge (observer null) has no statistics to reduce: asked for them, an error names the edge', () => {
    expect(() => reduceObserver(batches, 0, args({ strategy: 'group', group_size: 2, dynamic: true, observer: null }))).toThrow(/^edge 0 is dynamic: it has no observer and no statistics$/);
  });
  it('memoryless_minmax: the last batch', () => {
    expect(reduceObserver(batches, 0, args({ strategy: 'attn_head', observer: 'memoryless_minmax' }))).toEqual({ min: [-2, -1], max: [4, 2] });
  });
  it('minmax: moving average with c = 0.01 (first batch as is)', () => {
    const r = reduceObserver(batches, 0, args({ strategy: 'attn_head', observer: 'minmax' }));
    const ema = (xs: number[]): number => xs.slice(1).reduce((v, n) => Math.fround(Math.fround(v * 0.99) + Math.fround(n * 0.01)), xs[0]!);
    expect(r.min).toEqual([ema([-1, -3, -2]), ema([-4, -2, -1])]);
    expect(r.max).toEqual([ema([2, 1, 4]), ema([1, 5, 2])]);
    expect(reduceObserver(batches, 0, args({ strategy: 'attn_head', observer: 'minmax', observer_kwargs: { averaging_constant: 1 } }))).toEqual({ min: [-2, -1], max: [4, 2] });
  });
  it('mse ranges, when a batch carries them, are what the mse observer averages; every other observer reads min and max', () => {
    // statistics are kept per batch so that any observer can be applied to them afterwards
    const withMse: Batch[] = [
      { set: 'a', edges: [{ min: [-1, -4], max: [2, 1], mseMin: [-0.5, -3], mseMax: [1.5, 0.5] }] },
      { set: 'b', edges: [{ min: [-3, -2], max: [1, 5], mseMin: [-2, -1.5], mseMax: [0.75, 4] }] },
    ];
    const head = args({ strategy: 'attn_head' });
    expect(reduceObserver(withMse, 0, head)).toEqual({ min: [-3, -4], max: [2, 5] });
    expect(reduceObserver(withMse, 0, { ...head, observer: 'memoryless_minmax' })).toEqual({ min: [-3, -2], max: [1, 5] });
    expect(reduceObserver(withMse, 0, { ...head, observer: 'mse', observer_kwargs: { averaging_constant: 0.5 } })).toEqual({ min: [-1.25, -2.25], max: [1.125, 2.25] });
  });
  it('no batch at all is an error, whatever the observer', () => {
    for (const observer of ['static_minmax', 'minmax', 'memoryless_minmax', 'mse'] as const) {
      expect(() => reduceObserver([], 0, args({ observer }))).toThrow(/^no calibration batches$/);
    }
  });
  it('mse honours each observer_kwarg (maxshrink, grid, norm, patience) as the independent search does', () => {
    // data sets found so that each kwarg changes the reference's answer from the defaults'
    const a = [0.57, -0.29, 0.17, -0.98, -0.98, -0.58, -0.22, -0.12, -0.44, 0.6, -0.57, -0.45, 1.65];
    const b = [0.33, 0.46, -0.01, 0.97, -0.25, 0.72, 0.71, 0.99, 0.62, -0.39, -0.56, 0.64, 0.21, 0.92, 1.53];
    const c = [-0.65, -0.69, -0.71, -0.43, 0.86, -0.98, 0.78, -0.72, -0.55, -0.44, 3.38];
    // [values, kwargs, kwargs under which the reference answers otherwise]
    const cases: [number[], Record<string, number>, Record<string, number>][] = [
      [a, { patience: 2 }, { patience: 3 }], // stops after i = 2: the range as observed
      [a, { patience: 3 }, { patience: 2 }], // goes on to i = 3, which is better
      [a, { maxshrink: 0.02 }, {}],
      [b, { grid: 40 }, {}],
      [c, { norm: 1 }, {}],
    ];
    for (const [values, kw, other] of cases) {
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      const ref = referenceMseRange(values, lo, hi, { bits: 4, ...kw });
      expect(ref, JSON.stringify(kw)).not.toEqual(referenceMseRange(values, lo, hi, { bits: 4, ...other }));
      const got = mseRange(values, lo, hi, args({ num_bits: 4, observer: 'mse', observer_kwargs: kw }));
      expect(got[0], JSON.stringify(kw)).toBeCloseTo(ref[0], 6);
      expect(got[1], JSON.stringify(kw)).toBeCloseTo(ref[1], 6);
    }
  });
  it('mse keeps the first of equally good candidates, and with no candidate (maxshrink 0) the range as observed', () => {
    // every candidate quantizes 0 exactly: the first one (the whole range) is kept
    expect(mseRange([0, 0, 0], -1, 2, args({ num_bits: 4 }))).toEqual([-1, 2]);
    expect(referenceMseRange([0, 0, 0], -1, 2, { bits: 4 })).toEqual([-1, 2]);
    expect(mseRange([0.3, 1.7], -1, 2, args({ num_bits: 4, observer_kwargs: { maxshrink: 0 } }))).toEqual([-1, 2]);
    expect(referenceMseRange([0.3, 1.7], -1, 2, { bits: 4, maxshrink: 0 })).toEqual([-1, 2]);
  });
  it('mse clips an outlier when that lowers the total error, within maxshrink', () => {
    // 1000 values spread over [-1, 1] and one at 1.3: int4 steps shrink by up to 20 %, which
    // costs the outlier at most 0.26 and saves every other value about 40 % of its error.
    const values = [...Array.from({ length: 1000 }, (_, i) => ((i * 0.6180339887) % 1) * 2 - 1), 1.3];
    const [lo, hi] = mseRange(values, -1, 1.3, args({ num_bits: 4 }));
    // an independent float64 search over the same candidates (tests/harness/mse-reference.ts)
    const [refLo, refHi] = referenceMseRange(values, -1, 1.3, { bits: 4 });
    expect(refHi).toBeLessThan(1.3 * 0.99); // it does clip: at least one grid step below the outlier
    expect(refHi).toBeGreaterThanOrEqual(1.3 * 0.8);
    expect(hi).toBeCloseTo(refHi, 6);
    expect(lo).toBeCloseTo(refLo, 6);
    expect(hi).toBeLessThan(Math.fround(1.3 * 0.99));
    // and a range that needs no clipping (no outlier) is left as it is
    const [, full] = mseRange([-1, -0.5, 0, 0.5, 1], -1, 1, args({ num_bits: 8 }));
    expect(full).toBe(1);
  });
});

describe('zeroScaleReplacement: the epsilon of the scale type (compressed-tensors\' _get_dtype_eps, torch.finfo(dtype).eps)', () => {
  it('float32 1.1920929e-07, float16 0.0009765625, bfloat16 0.0078125', () => {
    expect(zeroScaleReplacement(DataType.FLOAT)).toBe(1.1920928955078125e-7);
    expect(zeroScaleReplacement(DataType.FLOAT16)).toBe(0.0009765625);
    expect(zeroScaleReplacement(DataType.BFLOAT16)).toBe(0.0078125);
  });
});

describe('scaleProblem: the scales a float32, float16 or bfloat16 can hold (IEEE 754 limits)', () => {
  it('NaN, then negative (-Inf and negative subnormals too), then zero (either sign)', () => {
    expect(scaleProblem(NaN)).toBe('NaN');
    expect(scaleProblem(NaN, DataType.FLOAT16)).toBe('NaN');
    expect(scaleProblem(-Infinity)).toBe('negative');
    expect(scaleProblem(-0.5)).toBe('negative');
    expect(scaleProblem(-(2 ** -149))).toBe('negative');
    expect(scaleProblem(0)).toBe('zero');
    expect(scaleProblem(-0)).toBe('zero');
    expect(scaleProblem(1)).toBeUndefined();
  });
  it('the largest finite value of each type is a scale; anything above it is infinite once stored', () => {
    // float32 max (2 − 2^-23)·2^127, float16 65504, bfloat16 (2 − 2^-7)·2^127
    expect(scaleProblem(3.4028234663852886e38)).toBeUndefined();
    expect(scaleProblem(Infinity)).toBe('past the largest float32 (3.4028234663852886e+38), so infinite');
    expect(scaleProblem(65504, DataType.FLOAT16)).toBeUndefined();
    expect(scaleProblem(65505, DataType.FLOAT16)).toBe('past the largest float16 (65504), so infinite');
    expect(scaleProblem(3.3895313892515355e38, DataType.BFLOAT16)).toBeUndefined();
    expect(scaleProblem(3.39e38, DataType.BFLOAT16)).toBe('past the largest bfloat16 (3.3895313892515355e+38), so infinite');
  });
  it('the smallest normal number of each type is a scale; anything below it is subnormal', () => {
    // float32 and bfloat16: 2^-126 = 1.1755e-38; float16: 2^-14 = 6.1035e-5
    expect(scaleProblem(2 ** -126)).toBeUndefined();
    expect(scaleProblem(2 ** -127)).toBe('subnormal in float32 (below its smallest normal number, 1.175e-38)');
    expect(scaleProblem(2 ** -14, DataType.FLOAT16)).toBeUndefined();
    expect(scaleProblem(2 ** -15, DataType.FLOAT16)).toBe('subnormal in float16 (below its smallest normal number, 6.104e-5)');
    expect(scaleProblem(2 ** -126, DataType.BFLOAT16)).toBeUndefined();
    expect(scaleProblem(2 ** -130, DataType.BFLOAT16)).toBe('subnormal in bfloat16 (below its smallest normal number, 1.175e-38)');
  });
});
