/** Small shared test fixtures. */
import type { QuantizationArgs } from '../../src/quant/args.js';

/** QuantizationArgs with compressed-tensors' defaults (int8, symmetric, tensor), overridden by `o`. */
export function quantArgs(o: Partial<QuantizationArgs> = {}): QuantizationArgs {
  return {
    num_bits: 8,
    type: 'int',
    symmetric: true,
    group_size: null,
    strategy: 'tensor',
    block_structure: null,
    dynamic: false,
    actorder: null,
    scale_dtype: null,
    zp_dtype: null,
    observer: 'static_minmax',
    observer_kwargs: {},
    ...o,
  };
}

/** A deterministic Fisher–Yates shuffle. */
export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
