/**
 * The compressed-tensors `quantization_config` a compressed-tensors user would write for the
 * same rule set (as `QuantizationConfig.from_pretrained` + `ModelCompressor.update_config`
 * serialize it): one group per distinct scheme (`group_0`, ...), attention groups in `dense`
 * format, `kv_cache_scheme` always present when attention is quantized (equal to the attention
 * args), status `frozen`, keys sorted.
 */
import type { QuantizationArgs } from '../quant/args.js';
import type { RuleSet } from '../rules/schema.js';
import type { SitePlan } from '../rules/targets.js';

/** The compressed-tensors release whose serialization this follows. */
export const COMPRESSED_TENSORS_VERSION = '0.18.0';

export function argsJson(a: QuantizationArgs): Record<string, unknown> {
  return {
    actorder: a.actorder,
    block_structure: a.block_structure,
    dynamic: a.dynamic,
    group_size: a.group_size,
    num_bits: a.num_bits,
    observer: a.observer,
    observer_kwargs: a.observer_kwargs,
    scale_dtype: a.scale_dtype,
    strategy: a.strategy,
    symmetric: a.symmetric,
    type: a.type,
    zp_dtype: a.zp_dtype,
  };
}

export function quantizationConfig(rules: RuleSet, plans: readonly SitePlan[]): Record<string, unknown> {
  const groups: Record<string, unknown> = {};
  const groupNames = [...new Set(plans.map((p) => p.group).filter((g): g is string => g !== undefined))];
  groupNames.forEach((g, i) => {
    const targets = plans.filter((p) => p.group === g).map((p) => p.site.name);
    groups[`group_${i}`] = {
      format: 'dense',
      input_activations: argsJson(rules.configGroups[g]!.input_activations),
      output_activations: null,
      targets,
      weights: null,
    };
  });
  // As compressed-tensors: the kv_cache_scheme is the input args of a quantized cached
  // attention (the last one wins), or the kv-only scheme.
  const withCache = plans.filter((p) => p.site.cache !== null);
  const kv = withCache.length > 0 ? argsJson(withCache[withCache.length - 1]!.k) : rules.kvCacheScheme ? argsJson(rules.kvCacheScheme) : null;
  return sortKeys({
    config_groups: groups,
    format: 'dense',
    global_compression_ratio: null,
    ignore: [...rules.ignore],
    kv_cache_scheme: kv,
    quant_method: 'compressed-tensors',
    quantization_status: 'frozen',
    sparsity_config: {},
    transform_config: {},
    version: COMPRESSED_TENSORS_VERSION,
  }) as Record<string, unknown>;
}

/** Recursively sort object keys (arrays keep their order): deterministic JSON. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
