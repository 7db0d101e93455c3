/**
 * `ctc rules [NAME]`: the built-in rule sets, or one set's file and what it quantizes;
 * `--print-config`: the quantization_config it produces.
 */
import { readFileSync } from 'node:fs';
import { ruleSetConfig } from '../emit/config.js';
import { UsageError } from '../errors.js';
import { builtinRuleFile, builtinRuleNames, loadRuleSet } from '../rules/load.js';
import type { QuantizationArgs } from '../quant/args.js';
import { table, wrapWords } from './table.js';

const granularity = (a: QuantizationArgs): string =>
  a.dynamic
    ? `dynamic: scales computed in the model for every token, per group of ${a.group_size} values of a head`
    : `${a.strategy === 'attn_head' ? 'one scale per head' : 'one scale per tensor'}, observer ${a.observer}`;
const argsText = (a: QuantizationArgs): string => `${a.type === 'float' ? 'float8 e4m3' : `int${a.num_bits}`} ${a.symmetric ? 'symmetric' : 'asymmetric'}, ${granularity(a)}`;

export interface RulesFlags {
  /** Print the quantization_config the rule set produces instead of the description. */
  readonly printConfig?: boolean;
  /** The attention class ctc's `attention` target is written as. */
  readonly attentionClass?: string;
  /** The width the list's descriptions are wrapped to (unwrapped when absent). */
  readonly width?: number;
}

export function rulesCommand(name: string | undefined, out: (s: string) => void, flags: RulesFlags = {}): void {
  if (flags.printConfig) {
    if (name === undefined) throw new UsageError('--print-config shows one rule set: ctc rules NAME --print-config');
    out(JSON.stringify(ruleSetConfig(loadRuleSet(name), flags.attentionClass ?? 'LlamaAttention'), null, 2));
    return;
  }
  if (name === undefined) {
    const rows = builtinRuleNames().map((n) => [n, loadRuleSet(n).description]);
    out(table(['rule set', 'what it quantizes'], rows, flags.width));
    const next = 'ctc rules NAME shows one (--print-config: its quantization_config); ctc compile MODEL --rules NAME|FILE applies one (FILE: the same shape in JSON, or YAML as an llm-compressor recipe).';
    out(`\n${wrapWords(next, flags.width ?? Infinity).join('\n')}`);
    return;
  }
  const rules = loadRuleSet(name);
  const lines = [`${rules.name}: ${rules.description}`, ''];
  for (const [g, s] of Object.entries(rules.configGroups)) lines.push(`config group ${g}: Q, K and V of sites matching ${s.targets.join(', ')}: ${argsText(s.input_activations)}`);
  if (rules.kvCacheScheme) lines.push(`kv_cache_scheme: K and V at the cache of every attention with a KV cache: ${argsText(rules.kvCacheScheme)}`);
  for (const [g, t] of Object.entries(rules.transformConfig?.config_groups ?? {})) {
    const at = t.apply.map((a) => `${a.location} of ${a.targets.join(', ')}`).join('; ');
    lines.push(`transform_config ${g}: ${t.type} rotation over head_dim (${t.head_dim ?? "the model's head dim"}) at ${at}, before quantization`);
  }
  if (rules.ctcExtensions.kCacheCentering !== null) {
    lines.push('ctc_extensions k_cache_centering: the calibrated mean of each kv head\'s keys subtracted before they are quantized (exact for attention; a ctc extension that vLLM does not apply)');
  }
  if (rules.ignore.length) lines.push(`ignore: ${rules.ignore.join(', ')} (config groups only; compressed-tensors applies kv_cache_scheme regardless)`);
  lines.push('', `--- ${rules.source}`, readFileSync(builtinRuleNames().includes(name) ? builtinRuleFile(name) : rules.source, 'utf8').trimEnd());
  out(lines.join('\n'));
}
