/**
 * `re:` targets run in linear time with compressed-tensors' re.match semantics (anchored at the
 * start of the name, not at its end). The catastrophic pattern `(.+)+z$`, which a backtracking
 * engine needs about 2^n steps for on a name of n characters (minutes for one 30-character
 * site name), gives compressed-tensors' answers over an 80-layer model; `npm run bench:match`
 * times it (well inside a second).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateLlama } from '../../corpus/generators/llama.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { RuleError } from '../../src/errors.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { compileTargetRegex } from '../../src/rules/regex.js';
import type { TargetRegex } from '../../src/rules/regex.js';
import { planSites } from '../../src/rules/targets.js';

const dir = mkdtempSync(join(tmpdir(), 'ctc-regex-'));
let n = 0;
const fp8 = { num_bits: 8, type: 'float', strategy: 'attn_head' };
function rules(targets: string[], ignore: string[] = []): string {
  const f = join(dir, `r${n++}.json`);
  writeFileSync(f, JSON.stringify({ config_groups: { attention: { targets, input_activations: fp8 } }, ignore }));
  return f;
}
const regex = (p: string): TargetRegex => {
  const r = compileTargetRegex(p);
  if ('error' in r) throw new Error(r.error);
  return r;
};

describe('re.match semantics', () => {
  it('anchored at the start, not at the end; $ anchors the end', () => {
    expect(regex('model').matches('model.layers.0.self_attn')).toBe(true);
    expect(regex('layers').matches('model.layers.0.self_attn')).toBe(false);
    expect(regex('.*layers').matches('model.layers.0.self_attn')).toBe(true);
    expect(regex('.*self_attn$').matches('model.layers.0.self_attn')).toBe(true);
    expect(regex('.*self_attn$').matches('model.layers.0.self_attn.q_proj')).toBe(false);
    // an alternation is anchored as a whole (Python wraps nothing: ^(?:a|b))
    expect(regex('x|model').matches('model.layers.0')).toBe(true);
    expect(regex('x|layers').matches('model.layers.0')).toBe(false);
    // Python's named groups work
    expect(regex('(?P<root>model)\\.layers\\.(\\d+)').matches('model.layers.12.self_attn')).toBe(true);
  });
  it('backreferences and lookaround are refused with the reason; other syntax errors are passed on', () => {
    for (const p of ['(a)\\1', '(?=model)model', '(?!x).*', '(?<=a)b', '(?<!a)b']) {
      const r = compileTargetRegex(p);
      expect('error' in r && r.error, p).toMatch(/backreferences and lookaround need a backtracking engine, which can take exponential time; ctc matches targets in linear time/);
    }
    const r = compileTargetRegex('(unclosed');
    expect('error' in r && r.error).toMatch(/missing closing \)/);
  });
  it('a rule file with lookahead is refused at load, naming the file and the key', () => {
    expect(() => loadRuleSet(rules(['attention'], ['re:(?!model).*']))).toThrow(RuleError);
    expect(() => loadRuleSet(rules(['re:.*(?=self_attn$)self_attn']))).toThrow(/r\d+\.json: config_groups\.attention\.targets\.0: invalid regular expression re:\.\*\(\?=self_attn\$\)self_attn: .*linear time/);
  });
});

describe('patterns a backtracking engine takes exponential time on', () => {
  // How long they take is measured by `npm run bench:match` (target: well under a second over
  // 80 layers); here, that they give compressed-tensors' answers (narrow re.match semantics).
  const { model } = generateLlama({ hidden: 16, heads: 2, kvHeads: 1, intermediate: 16, vocab: 16, layers: 80 }, { form: 'decomposed', weights: 'inline' });
  const sites = findSites(model, ATTENTION_PATTERNS).sites;

  it('re:(.+)+self_attn$ takes every one of 80 sites (not their parents or projections); re:(.+)+z$ and the ignores take none', () => {
    expect(sites.length).toBe(80);
    const set = loadRuleSet(rules(['re:(.+)+z$', 're:(.+)+self_attn$'], ['re:(x+x+)+y', 're:(.*a){12}$']));
    const plans = planSites(set, sites);
    expect(plans.map((p) => p.site.name)).toEqual(sites.map((s) => s.name));
    expect(planSites(loadRuleSet(rules(['re:(.+)+z$'])), sites)).toEqual([]);
  });
});
