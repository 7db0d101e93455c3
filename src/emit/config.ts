/**
 * The compressed-tensors `quantization_config` that llm-compressor saves for the same recipe
 * (compressed-tensors `QuantizationConfig.from_pretrained` + `ModelCompressor.update_config`,
 * quant_config.py / model_compressor.py):
 *
 * - one group per distinct scheme (`group_0`, ...) in module order, `format: "dense"` (attention
 *   is stored uncompressed), its `targets` as the recipe wrote them (from_pretrained keeps each
 *   module's scheme, targets included);
 * - `ignore` computed from the model, not copied from the recipe: every module of a quantized
 *   class that no group quantizes (here: the attention sites without a group);
 * - `kv_cache_scheme` the args of the last quantized attention with a cache, or the kv-only scheme;
 * - `quantization_status: "compressed"` (what save_pretrained(save_compressed=True) writes), and
 *   the compressed-tensors `version` whose semantics ctc follows; keys sorted.
 *
 * - `transform_config` the rule set's (SpinQuant R3: a hadamard scheme at q_attn and k_cache), in
 *   compressed-tensors' TransformConfig serialization (every field, precision as "torch.float32").
 *
 * - `ctc_extensions` (only for a rule set that has them): what compressed-tensors cannot state,
 *   under a name no compressed-tensors key uses, each documented in place. `k_cache_centering`:
 *   the keys are quantized minus a calibrated per-head, per-channel offset (src/transform/kv-offset.ts),
 *   which vLLM does not apply, so the k_scale of those sites quantizes K − m, not K.
 *
 * ctc's own target `attention` has no compressed-tensors spelling: it is written as the
 * architecture's attention class (`LlamaAttention`) when the Hugging Face config is known,
 * otherwise as the exact names of the sites it quantized.
 *
 * The `vllm` form is what vLLM can load (compressed_tensors.py `from_config`): vLLM skips a config
 * group only when its targets are one class name ending in "Attention" and parses every other
 * group's `weights` as QuantizationArgs, so each attention group targets the class alone; the
 * computed `ignore` keeps it equivalent under compressed-tensors' matching.
 */
import type { Site } from '../attention/site.js';
import type { QuantizationArgs } from '../quant/args.js';
import type { RuleSet, TransformConfig } from '../rules/schema.js';
import type { SitePlan } from '../quant/edges.js';

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

export interface ConfigOptions {
  /** The architecture's attention class (`LlamaAttention`), when the Hugging Face config is known. */
  readonly attentionClass?: string | undefined;
  /** `recipe`: targets as the rule set wrote them; `vllm`: each group targets the attention class. */
  readonly form: 'recipe' | 'vllm';
  /** The sites whose keys key centering shifted (ctc_extensions.k_cache_centering), if any. */
  readonly centered?: readonly string[];
}

/** ctc_extensions as quantization_config.json states them, or nothing for a rule set without. */
function extensionsJson(rules: RuleSet, targets: readonly string[]): Record<string, unknown> | undefined {
  if (rules.ctcExtensions.kCacheCentering === null) return undefined;
  const rotated = rules.transformConfig !== null;
  return {
    k_cache_centering: {
      description:
        'ctc extension, not compressed-tensors: before the keys of these attention modules are quantized' +
        (rotated ? ' (after the transform_config rotation at k_cache)' : '') +
        ', a constant offset m per kv head and channel is subtracted: the mean of those keys over the calibration data. ' +
        'Exact for attention, since q·(k − m) shifts every score of a query by the same q·m and softmax ignores that. ' +
        `vLLM and compressed-tensors do not apply it: the cache's quantization (k_scale, or the dynamic scales) applies to ${rotated ? 'K·H − m' : 'K − m'}, not to the keys themselves.`,
      statistic: rules.ctcExtensions.kCacheCentering.statistic,
      targets: [...targets],
      offsets:
        `m per module as "<module>.k_offset" in scales.json (shape [num_kv_heads, head_dim]${rotated ? ', in the rotated space: the mean of K·H' : ''}), ` +
        'and as initializers "<module>.k_offset" of model.onnx',
    },
  };
}

/** `plans` are the quantized sites, `sites` every attention site of the model. */
export function quantizationConfig(rules: RuleSet, plans: readonly SitePlan[], sites: readonly Site[], opts: ConfigOptions): Record<string, unknown> {
  const groups: Record<string, unknown> = {};
  const groupNames = [...new Set(plans.map((p) => p.group).filter((g): g is string => g !== undefined))];
  if (opts.form === 'vllm' && groupNames.length > 0 && opts.attentionClass === undefined) throw new Error('the vllm form of an attention group needs the attention class');
  const written = new Map<string, Record<string, unknown>>();
  for (const g of groupNames) {
    const args = argsJson(rules.configGroups[g]!.input_activations);
    const quantized = plans.filter((p) => p.group === g).map((p) => p.site.name);
    const targets =
      opts.form === 'vllm'
        ? [opts.attentionClass!]
        : [...new Set(rules.configGroups[g]!.targets.flatMap((t) => (t !== 'attention' ? [t] : opts.attentionClass !== undefined ? [opts.attentionClass] : quantized)))];
    // Groups that differ only in targets are one scheme once every target is the class.
    const key = opts.form === 'vllm' ? JSON.stringify(args) : g;
    if (!written.has(key)) written.set(key, { format: 'dense', input_activations: args, output_activations: null, targets, weights: null });
  }
  [...written.values()].forEach((group, i) => {
    groups[`group_${i}`] = group;
  });
  // from_pretrained: modules of a class some group quantizes, which no group quantizes.
  const inGroup = new Set(plans.filter((p) => p.group !== undefined).map((p) => p.site.name));
  const ignore = groupNames.length === 0 ? [] : sites.map((s) => s.name).filter((n) => !inGroup.has(n));
  // As compressed-tensors: the kv_cache_scheme is the input args of a quantized cached
  // attention (the last one wins), or the kv-only scheme.
  const withCache = plans.filter((p) => p.site.cache !== null);
  const kv = withCache.length > 0 ? argsJson(withCache[withCache.length - 1]!.k) : rules.kvCacheScheme ? argsJson(rules.kvCacheScheme) : null;
  const transform = transformJson(rules.transformConfig, (t) => (t !== 'attention' ? [t] : opts.attentionClass !== undefined ? [opts.attentionClass] : sites.map((s) => s.name)));
  return envelope(groups, ignore, kv, transform, extensionsJson(rules, opts.centered ?? []));
}

/** compressed-tensors' TransformConfig as it serializes, ctc's `attention` target spelt by `spell`. */
function transformJson(t: TransformConfig | null, spell: (target: string) => string[]): Record<string, unknown> {
  if (t === null) return {};
  const groups = Object.fromEntries(
    Object.entries(t.config_groups).map(([name, s]) => [
      name,
      {
        type: s.type,
        apply: s.apply.map((a) => ({ targets: [...new Set(a.targets.flatMap(spell))], location: a.location, inverse: a.inverse, ignore: a.ignore })),
        randomize: s.randomize,
        requires_grad: s.requires_grad,
        head_dim: s.head_dim,
        precision: s.precision,
      },
    ]),
  );
  return { config_groups: groups };
}

/**
 * The config of a rule set alone (`ctc rules NAME --print-config`), as a compile writes it when
 * the rule set quantizes every attention site: `ignore` is then empty (a compile computes it from
 * the model) and the kv_cache_scheme is the last group's args, or the kv-only scheme.
 */
export function ruleSetConfig(rules: RuleSet, attentionClass: string): Record<string, unknown> {
  const groups: Record<string, unknown> = {};
  Object.values(rules.configGroups).forEach((g, i) => {
    const targets = [...new Set(g.targets.map((t) => (t === 'attention' ? attentionClass : t)))];
    groups[`group_${i}`] = { format: 'dense', input_activations: argsJson(g.input_activations), output_activations: null, targets, weights: null };
  });
  const last = Object.values(rules.configGroups).at(-1);
  const kv = last !== undefined ? argsJson(last.input_activations) : rules.kvCacheScheme ? argsJson(rules.kvCacheScheme) : null;
  return envelope(groups, [], kv, transformJson(rules.transformConfig, (t) => [t === 'attention' ? attentionClass : t]), extensionsJson(rules, [attentionClass]));
}

function envelope(
  groups: Record<string, unknown>,
  ignore: readonly string[],
  kv: Record<string, unknown> | null,
  transform: Record<string, unknown>,
  extensions: Record<string, unknown> | undefined,
): Record<string, unknown> {
  return sortKeys({
    ...(extensions !== undefined ? { ctc_extensions: extensions } : {}),
    config_groups: groups,
    format: 'dense',
    global_compression_ratio: null,
    ignore,
    kv_cache_scheme: kv,
    quant_method: 'compressed-tensors',
    quantization_status: 'compressed',
    sparsity_config: {},
    transform_config: transform,
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
