/**
 * `re:` targets run in linear time with compressed-tensors' re.match semantics (anchored at the
 * start of the name, not at its end). The catastrophic pattern `(.+)+z$`, which a backtracking
 * engine needs about 2^n steps for on a name of n characters (minutes for one 30-character
 * site name), finishes over an 80-layer model well inside a second.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
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

describe('linear time', () => {
  const { model } = generateLlama({ hidden: 16, heads: 2, kvHeads: 1, intermediate: 16, vocab: 16, layers: 80 }, { form: 'decomposed', weights: 'inline' });
  const sites = findSites(model, ATTENTION_PATTERNS).sites;

  it('re:(.+)+z$ over the 80 sites of an 80-layer model (and their parents and projections) takes well under a second', () => {
    expect(sites.length).toBe(80);
    const set = loadRuleSet(rules(['re:(.+)+z$', 're:(.+)+self_attn$'], ['re:(x+x+)+y', 're:(.*a){12}$']));
    const t0 = performance.now();
    const plans = planSites(set, sites);
    const ms = performance.now() - t0;
    // (.+)+self_attn$ matches every site narrowly: not its parent, not its projections
    expect(plans.map((p) => p.site.name)).toEqual(sites.map((s) => s.name));
    // A backtracking engine needs minutes here; a linear one milliseconds. 1 s leaves room for a busy machine.
    expect(ms).toBeLessThan(1000);
  });
});
