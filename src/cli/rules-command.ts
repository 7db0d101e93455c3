/**
 * `ctc rules [NAME]`: the built-in rule sets, or one set's file and what it quantizes.
 */
import { readFileSync } from 'node:fs';
import { builtinRuleFile, builtinRuleNames, loadRuleSet } from '../rules/load.js';
import type { QuantizationArgs } from '../quant/args.js';
import { table } from './table.js';

const argsText = (a: QuantizationArgs): string =>
  `${a.type === 'float' ? 'float8 e4m3' : `int${a.num_bits}`} ${a.symmetric ? 'symmetric' : 'asymmetric'}, ${a.strategy === 'attn_head' ? 'one scale per head' : 'one scale per tensor'}, observer ${a.observer}`;

export function rulesCommand(name: string | undefined, out: (s: string) => void): void {
  if (name === undefined) {
    const rows = builtinRuleNames().map((n) => [n, loadRuleSet(n).description]);
    out(table(['rule set', 'what it quantizes'], rows));
    out('\nctc rules NAME shows one; ctc compile MODEL --rules NAME|FILE applies one (FILE: the same JSON shape).');
    return;
  }
  const rules = loadRuleSet(name);
  const lines = [`${rules.name}: ${rules.description}`, ''];
  for (const [g, s] of Object.entries(rules.configGroups)) lines.push(`config group ${g}: Q, K and V of sites matching ${s.targets.join(', ')}: ${argsText(s.input_activations)}`);
  if (rules.kvCacheScheme) lines.push(`kv_cache_scheme: K and V at the cache of every attention with a KV cache: ${argsText(rules.kvCacheScheme)}`);
  if (rules.ignore.length) lines.push(`ignore: ${rules.ignore.join(', ')} (config groups only; compressed-tensors applies kv_cache_scheme regardless)`);
  lines.push('', `--- ${rules.source}`, readFileSync(builtinRuleNames().includes(name) ? builtinRuleFile(name) : rules.source, 'utf8').trimEnd());
  out(lines.join('\n'));
}
