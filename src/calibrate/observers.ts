/**
 * Observers: reduce per-batch statistics to the min/max that the scales are computed from, as
 * llm-compressor's observers do.
 *
 *   static_minmax      running min of mins, max of maxes over all batches (the default)
 *   minmax             moving average: v = v·(1-c) + new·c, c = averaging_constant (0.01); first batch as is
 *   memoryless_minmax  the last batch only
 *   mse                per batch, the clipped range (min·p, max·p), p = 1 - i/grid for i < maxshrink·grid,
 *                      that minimizes Σ|QDQ(x) - x|^norm per head (stopping after `patience` steps
 *                      without improvement), then the same moving average as minmax
 *
 * For the `tensor` strategy the per-head statistics of a batch are first reduced over heads.
 */
import type { QuantizationArgs } from '../quant/args.js';
import { OBSERVER_DEFAULTS } from '../quant/args.js';
import { computeQParams, fakeQuantizer } from '../quant/qparams.js';
import type { Batch } from './stats.js';

export interface Range {
  readonly min: number[];
  readonly max: number[];
}

const f = Math.fround;

function perStrategy(min: readonly number[], max: readonly number[], args: QuantizationArgs): Range {
  if (args.strategy === 'attn_head') return { min: [...min], max: [...max] };
  return { min: [Math.min(...min)], max: [Math.max(...max)] };
}

export function reduceObserver(batches: readonly Batch[], edge: number, args: QuantizationArgs): Range {
  const ranges = batches.map((b) => {
    const e = b.edges[edge]!;
    if (args.observer === 'mse') return perStrategy(e.mseMin ?? e.min, e.mseMax ?? e.max, args);
    return perStrategy(e.min, e.max, args);
  });
  if (ranges.length === 0) throw new Error('no calibration batches');
  switch (args.observer) {
    case 'static_minmax':
      return ranges.reduce((a, r) => ({ min: a.min.map((x, i) => Math.min(x, r.min[i]!)), max: a.max.map((x, i) => Math.max(x, r.max[i]!)) }));
    case 'memoryless_minmax':
      return ranges[ranges.length - 1]!;
    case 'minmax':
    case 'mse': {
      const c = args.observer_kwargs['averaging_constant'] ?? OBSERVER_DEFAULTS.averaging_constant;
      return ranges.reduce((a, r) => ({
        min: a.min.map((x, i) => f(f(x * (1 - c)) + f(r.min[i]! * c))),
        max: a.max.map((x, i) => f(f(x * (1 - c)) + f(r.max[i]! * c))),
      }));
    }
    case null:
      throw new Error(`edge ${edge} is dynamic: it has no observer and no statistics`);
  }
}

/**
 * The mse search on one head's values (compressed-tensors' mse_quant): candidates shrink the
 * observed range; the error is Σ|QDQ(x) - x|^norm.
 */
export function mseRange(values: ArrayLike<number>, min: number, max: number, args: QuantizationArgs): [number, number] {
  const kw = args.observer_kwargs;
  const maxshrink = kw['maxshrink'] ?? OBSERVER_DEFAULTS.maxshrink;
  const grid = kw['grid'] ?? OBSERVER_DEFAULTS.grid;
  const norm = kw['norm'] ?? OBSERVER_DEFAULTS.norm;
  const patience = kw['patience'] ?? OBSERVER_DEFAULTS.patience;
  let best: [number, number] = [min, max];
  let bestErr = Infinity;
  let stale = 0;
  for (let i = 0; i < Math.floor(maxshrink * grid); i++) {
    const p = 1 - i / grid;
    const lo = f(min * p);
    const hi = f(max * p);
    const { scale, zeroPoint } = computeQParams([lo], [hi], args);
    const qdq = fakeQuantizer(scale[0]!, zeroPoint[0]!, args);
    let err = 0;
    for (let k = 0; k < values.length; k++) {
      const x = values[k]!;
      err += Math.abs(qdq(x) - x) ** norm;
    }
    if (err < bestErr) {
      bestErr = err;
      best = [lo, hi];
      stale = 0;
    } else if (++stale >= patience) break;
  }
  return best;
}
