/**
 * What vLLM accepts from a compressed-tensors checkpoint's attention and KV-cache parts, written
 * from vLLM's loader as read (not from ctc's code), so that tests can check ctc's output against it:
 *
 * - compressed_tensors.py `CompressedTensorsConfig.from_config`: a config group is skipped only when
 *   its targets are exactly one name ending in "Attention"; every other group goes to
 *   `_quantization_scheme_map_from_config`, which runs `QuantizationArgs.model_validate` on its
 *   `weights` (null fails there).
 * - compressed_tensors.py `CompressedTensorsKVCacheMethod.validate_kv_cache_scheme`: rejects when
 *   `type != "float" and num_bits != 8` (sic: both must differ), a strategy outside
 *   {tensor, attn_head}, and symmetric false.
 * - `create_weights` + `_tp_aware_loader`: per head, k/v scales flatten to [num_kv_heads] and the
 *   q scale to [num_heads] (then reduced per GQA group); per tensor, scales are [1] params loaded
 *   by weight_utils.py `default_weight_loader` (numel 1 is filled, else sizes must be equal).
 * - weight_utils.py `filter_duplicate_safetensors_files`: with an index, only the files it names
 *   are read.
 */
export interface VllmCheckInput {
  readonly config: Record<string, unknown>;
  /** Tensor name → shape, of every shard the index lists. */
  readonly tensors: ReadonlyMap<string, readonly number[]>;
  readonly attentionModules: readonly string[];
  readonly numHeads: number;
  readonly numKvHeads: number;
}

export function vllmProblems(x: VllmCheckInput): string[] {
  const problems: string[] = [];
  const qc = x.config['quantization_config'] as Record<string, unknown> | undefined;
  if (qc === undefined) return ['config.json has no quantization_config'];
  if (qc['quant_method'] !== 'compressed-tensors') problems.push(`quant_method ${String(qc['quant_method'])}`);
  const groups = (qc['config_groups'] ?? {}) as Record<string, { targets: string[]; weights: unknown }>;
  for (const [name, g] of Object.entries(groups)) {
    const skipped = g.targets.length === 1 && g.targets[0]!.endsWith('Attention');
    if (!skipped && (g.weights === null || g.weights === undefined)) problems.push(`config group ${name} (targets ${JSON.stringify(g.targets)}) is not skipped and has no weights: QuantizationArgs.model_validate(None) fails`);
  }
  const kv = qc['kv_cache_scheme'] as Record<string, unknown> | null;
  if (kv !== null && kv !== undefined) {
    if (kv['type'] !== 'float' && kv['num_bits'] !== 8) problems.push(`kv_cache_scheme num_bits=${String(kv['num_bits'])}, type=${String(kv['type'])}`);
    if (kv['strategy'] !== 'tensor' && kv['strategy'] !== 'attn_head') problems.push(`kv_cache_scheme strategy ${String(kv['strategy'])}`);
    if (!kv['symmetric']) problems.push('kv_cache_scheme not symmetric');
    const perHead = kv['strategy'] === 'attn_head';
    for (const m of x.attentionModules) {
      for (const role of ['q', 'k', 'v']) {
        const shape = x.tensors.get(`${m}.${role}_scale`);
        if (shape === undefined) continue; // vLLM keeps its placeholder
        const numel = shape.reduce((a, b) => a * b, 1);
        const want = perHead ? (role === 'q' ? x.numHeads : x.numKvHeads) : 1;
        if (numel !== want) problems.push(`${m}.${role}_scale has ${numel} values, vLLM's parameter ${want}`);
      }
    }
  }
  return problems;
}
