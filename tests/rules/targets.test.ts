/**
 * compressed-tensors' target semantics, each pinned by its documented behaviour
 * (docs/reference/compressed-tensors.md §3.3 "Order of application", §3.4 is_narrow_match):
 *
 *   - `re:<regex>` uses Python's re.match: anchored at the start of the name, NOT at its end
 *     ("add `$` yourself"), and not a search anywhere in the name;
 *   - per site, the FIRST config group that targets it gives the scheme;
 *   - kv_cache_scheme is applied to every cached attention module, the ignore list NOT consulted;
 *   - a config group's ignore removes the site from that group.
 *
 * The sites are the four of the trained Llama corpus model, model.model.layers.{0..3}.self_attn.
 */
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import { RuleError } from '../../src/errors.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import { notNarrowBecause, planSites } from '../../src/rules/targets.js';
import { corpusModel } from '../harness/paths.js';

const { sites } = scanModelFile(corpusModel('llama-gqa-bytes-ts-eager'));
const int8 = { num_bits: 8, type: 'int', strategy: 'attn_head' };
const fp8 = { num_bits: 8, type: 'float', strategy: 'tensor' };
const int4 = { num_bits: 4, type: 'int', strategy: 'tensor' };
const rules = (doc: Record<string, unknown>) => parseRuleSet(doc, 'test', 'test.json');
const layers = (doc: Record<string, unknown>): number[] => planSites(rules(doc), sites).map((p) => p.site.layer);

describe('re: targets are re.match: anchored at the start only', () => {
  it('the sites are the ones this file assumes', () => {
    expect(sites.map((s) => s.name)).toEqual([0, 1, 2, 3].map((i) => `model.model.layers.${i}.self_attn`));
  });
  it('a regex matching only a prefix of the name matches it (re.match, not re.fullmatch); lookahead is refused (linear-time engine)', () => {
    // Any prefix of a site name is a prefix of its projections' names too, so a narrow prefix
    // target needed a lookahead; ctc matches in linear time (RE2) and refuses lookaround with the reason.
    const prefix = 're:model\\.model\\.layers\\.0\\.self_(?!attn\\.)';
    expect(() => layers({ config_groups: { g: { targets: [prefix], input_activations: int8 } } })).toThrow(/lookaround need a backtracking engine/);
    expect(notNarrowBecause('re:model\\.model\\.layers\\.0\\.self_', 'model.model.layers.0.self_attn')).toMatch(/also matches model\.model\.layers\.0\.self_attn\.q_proj/);
  });
  it('a regex that matches inside the name but not at its start selects nothing (re.match, not re.search)', () => {
    expect(layers({ config_groups: { g: { targets: ['re:layers\\.0\\.self_attn$'], input_activations: int8 } } })).toEqual([]);
    expect(layers({ config_groups: { g: { targets: ['re:model\\.layers\\.0\\.self_attn$'], input_activations: int8 } } })).toEqual([]);
    // anchored at the start, it does
    expect(layers({ config_groups: { g: { targets: ['re:.*layers\\.0\\.self_attn$'], input_activations: int8 } } })).toEqual([0]);
  });
  it('an alternation is anchored as a whole: every branch must match from the start', () => {
    expect(layers({ config_groups: { g: { targets: ['re:xyz|model\\.model\\.layers\\.2\\.self_attn$'], input_activations: int8 } } })).toEqual([2]);
    expect(layers({ config_groups: { g: { targets: ['re:xyz|layers\\.2\\.self_attn$'], input_activations: int8 } } })).toEqual([]);
  });
  it('ignore entries use the same re.match', () => {
    const doc = (ignore: string[]) => ({ config_groups: { g: { targets: ['attention'], input_activations: int8 } }, ignore });
    expect(layers(doc(['re:model\\.model\\.layers\\.1\\.self_'])).sort()).toEqual([0, 2, 3]);
    expect(layers(doc(['re:layers\\.1\\.self_attn']))).toEqual([0, 1, 2, 3]);
  });
});

describe('the first config group that targets a site wins', () => {
  it('two groups target layer 0: the one written first gives its scheme, whichever it is', () => {
    const both = (first: string, second: string) =>
      planSites(
        rules({
          config_groups: {
            [first]: { targets: ['model.model.layers.0.self_attn'], input_activations: first === 'ints' ? int8 : fp8 },
            [second]: { targets: ['attention'], input_activations: second === 'ints' ? int8 : fp8 },
          },
        }),
        sites,
      );
    const a = both('ints', 'floats');
    expect(a.map((p) => [p.site.layer, p.group, p.q?.type])).toEqual([
      [0, 'ints', 'int'],
      [1, 'floats', 'float'],
      [2, 'floats', 'float'],
      [3, 'floats', 'float'],
    ]);
    const b = both('floats', 'ints');
    expect(b.map((p) => [p.site.layer, p.group, p.q?.type])).toEqual([
      [0, 'floats', 'float'],
      [1, 'ints', 'int'],
      [2, 'ints', 'int'],
      [3, 'ints', 'int'],
    ]);
  });
  it('within one group, targets in any order give the same plan', () => {
    const plan = (targets: string[]) => planSites(rules({ config_groups: { g: { targets, input_activations: int8 } } }), sites).map((p) => p.site.layer);
    expect(plan(['model.model.layers.3.self_attn', 're:.*layers\\.[01]\\.self_attn$'])).toEqual([0, 1, 3]);
    expect(plan(['re:.*layers\\.[01]\\.self_attn$', 'model.model.layers.3.self_attn'])).toEqual([0, 1, 3]);
  });
});

describe('kv_cache_scheme ignores `ignore`', () => {
  it('a kv_cache_scheme alone quantizes K and V of every cached attention, ignored or not', () => {
    const plans = planSites(rules({ kv_cache_scheme: int4, ignore: ['model.model.layers.1.self_attn', 're:.*layers\\.2\\.self_attn$'] }), sites);
    expect(plans.map((p) => [p.site.layer, p.group, p.q, p.k.num_bits, p.v.num_bits])).toEqual([0, 1, 2, 3].map((l) => [l, undefined, undefined, 4, 4]));
  });
  it('with a config group, an ignored site loses the group (no Q) but keeps the kv_cache_scheme', () => {
    const plans = planSites(rules({ config_groups: { g: { targets: ['attention'], input_activations: fp8 } }, kv_cache_scheme: int4, ignore: ['model.model.layers.1.self_attn'] }), sites);
    expect(plans.map((p) => [p.site.layer, p.group ?? null, p.q?.type ?? null, p.k.type, p.k.num_bits])).toEqual([
      [0, 'g', 'float', 'float', 8],
      [1, null, null, 'int', 4],
      [2, 'g', 'float', 'float', 8],
      [3, 'g', 'float', 'float', 8],
    ]);
  });
  it('a site no group targets gets the kv_cache_scheme', () => {
    const plans = planSites(rules({ config_groups: { g: { targets: ['model.model.layers.3.self_attn'], input_activations: fp8 } }, kv_cache_scheme: int4 }), sites);
    expect(plans.map((p) => [p.site.layer, p.group ?? null, p.k.num_bits])).toEqual([
      [0, null, 4],
      [1, null, 4],
      [2, null, 4],
      [3, 'g', 8],
    ]);
  });
});

describe('class names, parents and the suggested target', () => {
  it('a class name is a whole word ending in Attention; anything else is an exact name', () => {
    const plan = (t: string) => layers({ config_groups: { g: { targets: [t], input_activations: int8 } } });
    expect(plan('LlamaAttention')).toEqual([0, 1, 2, 3]);
    expect(plan('LlamaAttentionBlock')).toEqual([]);
    expect(plan('model.LlamaAttention')).toEqual([]);
    expect(plan('llamaAttention')).toEqual([]);
  });
  it('a name without a parent module cannot be named narrowly by a regex', () => {
    expect(notNarrowBecause('re:attn', 'attn')).toBe('the site name attn has no parent module, so no regex can name it narrowly (use "attention" or the exact name)');
    // a leading dot still has a parent: the empty name
    expect(notNarrowBecause('re:\\.attn$', '.attn')).toBeUndefined();
    expect(notNarrowBecause('attention', 'attn')).toBeUndefined();
  });
  it('notNarrowBecause on its own refuses an invalid regex as a rule error', () => {
    expect(() => notNarrowBecause('re:(a', 'model.attn')).toThrow(RuleError);
    expect(() => notNarrowBecause('re:(a', 'model.attn')).toThrow(/^invalid regular expression re:\(a: /);
  });
  it('the refusal of a wide target suggests the escaped exact regex, and that suggestion selects just the site', () => {
    let message = '';
    try {
      layers({ config_groups: { g: { targets: ['re:.*layers\\.2.*'], input_activations: int8 } } });
    } catch (e) {
      message = (e as Error).message;
    }
    const suggested = /write "(re:[^"]+)"/.exec(message)?.[1];
    expect(suggested).toBe('re:model\\.model\\.layers\\.2\\.self_attn$');
    expect(layers({ config_groups: { g: { targets: [suggested!], input_activations: int8 } } })).toEqual([2]);
  });
});
