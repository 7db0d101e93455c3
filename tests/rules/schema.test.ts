/**
 * Rule files: the built-in sets load; every invalid rule file is refused with
 * compressed-tensors' wording where it has one, naming the file and the key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import { builtinRuleNames, loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { corpusModel } from '../harness/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'ctc-rules-'));
let n = 0;
function ruleFile(doc: unknown): string {
  const f = join(dir, `rule${n++}.json`);
  writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
}
const fp8 = { num_bits: 8, type: 'float', strategy: 'attn_head', symmetric: true, dynamic: false };
const group = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ config_groups: { attention: { targets: ['attention'], input_activations: input, ...extra } } });

describe('built-in rule sets', () => {
  it('are the eight of the issue, the R3 sets and the dynamic sets', () => {
    expect(builtinRuleNames()).toEqual([
      'fp8-head', 'fp8-kv-head', 'fp8-kv-r3', 'fp8-kv-tensor', 'fp8-tensor', 'int4-kv-head', 'int4-kv-r3', 'int4-kv-r3-centered', 'int4-kv-r3-centered-dynamic', 'int4-kv-r3-dynamic', 'int4-kv-tensor', 'int8-head', 'int8-tensor',
    ]);
  });
  it('int4-kv-r3-dynamic: compressed-tensors dynamic group quantization (asymmetric int4, group 16), observer None', () => {
    const r = loadRuleSet('int4-kv-r3-dynamic');
    expect(r.kvCacheScheme).toMatchObject({ num_bits: 4, type: 'int', symmetric: false, strategy: 'group', group_size: 16, dynamic: true, observer: null, zp_dtype: 'torch.int8' });
    expect(r.transformConfig).not.toBeNull();
    expect(r.ctcExtensions.kCacheCentering).toBeNull();
    // compressed-tensors' own warning for an asymmetric cache
    expect(r.warnings).toEqual(['kv_cache_scheme: vLLM does not support asymmetric kv cache quantization']);
  });
  it('a dynamic scheme with an observer: the observer is dropped, with a warning (compressed-tensors sets it to None)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-schema-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, JSON.stringify({ kv_cache_scheme: { num_bits: 8, type: 'int', strategy: 'group', group_size: 8, dynamic: true, observer: 'mse' } }));
    const r = loadRuleSet(file);
    expect(r.kvCacheScheme!.observer).toBeNull();
    expect(r.warnings).toEqual([expect.stringMatching(/^kv_cache_scheme\.observer: "mse" is ignored: dynamic scales are computed from each tensor/)]);
  });
  it('fp8-head: one attention group, float8 per head, static_minmax', () => {
    const r = loadRuleSet('fp8-head');
    expect(r.configGroups['attention']!.input_activations).toMatchObject({ num_bits: 8, type: 'float', strategy: 'attn_head', symmetric: true, dynamic: false, observer: 'static_minmax' });
    expect(r.kvCacheScheme).toBeNull();
  });
  it('int4-kv-tensor: kv_cache_scheme only, int4 per tensor', () => {
    const r = loadRuleSet('int4-kv-tensor');
    expect(r.configGroups).toEqual({});
    expect(r.kvCacheScheme).toMatchObject({ num_bits: 4, type: 'int', strategy: 'tensor' });
  });
});

describe('invalid rule files: the error names the file and the key', () => {
  const cases: [string, unknown, RegExp][] = [
    ['unknown key in QuantizationArgs', group({ ...fp8, bits: 8 }), /config_groups\.attention\.input_activations\.bits: Extra inputs are not permitted/],
    ['unknown top-level key', { ...group(fp8), quant_stage: {} }, /quant_stage: Extra inputs are not permitted/],
    ['weights on attention', group(fp8, { weights: { num_bits: 8 } }), /config_groups\.attention\.weights: Cannot apply weight quantization to attention\. Instead, target the \(q\|k\|v\)_proj submodule layers of attention/],
    ['output activations on attention', group(fp8, { output_activations: fp8 }), /Cannot apply output quantization to attention/],
    ['no input activations', { config_groups: { attention: { targets: ['attention'] } } }, /config_groups\.attention: Cannot apply attention quantization without specifying input activations/],
    ['dynamic attn_head', group({ ...fp8, dynamic: true }), /input_activations\.dynamic: One of \(token, tensor, tensor_group, group\) must be used for dynamic quant\./],
    ['dynamic per tensor', group({ ...fp8, strategy: 'tensor', dynamic: true }), /input_activations\.strategy: dynamic tensor quantization of attention is not supported; dynamic quantization of attention takes strategy group/],
    // compressed-tensors' token strategy on a (B, H, S, D) tensor reduces all but batch and heads: not per token
    ['dynamic per token', group({ ...fp8, type: 'int', strategy: 'token', dynamic: true }), /input_activations\.strategy: dynamic token quantization of attention is not supported: .* one scale per batch and head, not per token\. For one scale per token and head, use strategy group/],
    ['dynamic float8 per group', group({ ...fp8, strategy: 'group', group_size: 16, dynamic: true }), /input_activations\.type: dynamic float8 quantization of attention is not supported/],
    ['static group', group({ ...fp8, type: 'int', strategy: 'group', group_size: 16 }), /input_activations\.strategy: Group quantization cannot be applied to attention/],
    ['dynamic local', group({ ...fp8, strategy: 'tensor_group', group_size: 16, dynamic: 'local' }), /input_activations\.dynamic: dynamic "local" \(tensor_group, NVFP4\) cannot be applied to attention/],
    ['channel strategy', group({ ...fp8, strategy: 'channel' }), /input_activations\.strategy: Channel quantization cannot be applied to attention/],
    ['group strategy without group_size', group({ ...fp8, strategy: 'group' }), /strategy group requires group_size to be set to a positive value/],
    ['static token', group({ ...fp8, strategy: 'token' }), /Cannot perform static token quantization, please use `dynamic=True`/],
    ['float4', group({ ...fp8, num_bits: 4 }), /float4 \(e2m1\) attention is not supported/],
    ['int3', group({ ...fp8, type: 'int', num_bits: 3 }), /integer quantization takes num_bits 2, 4, 8 or 16, got 3/],
    ['asymmetric float', group({ ...fp8, symmetric: false }), /input_activations\.symmetric: asymmetric float quantization is not supported/],
    ['unknown observer', group({ ...fp8, observer: 'histogram' }), /input_activations\.observer: unknown observer "histogram"/],
    ['bad strategy name', group({ ...fp8, strategy: 'per_head' }), /input_activations\.strategy: /],
    ['invalid regex target', { config_groups: { attention: { targets: ['re:(unclosed'], input_activations: fp8 } } }, /config_groups\.attention\.targets\.0: invalid regular expression/],
    ['quantizes nothing', { config_groups: {} }, /the rule set quantizes nothing/],
    ['kv scheme with weights-like key', { kv_cache_scheme: { ...fp8, weights: true } }, /kv_cache_scheme\.weights: Extra inputs are not permitted/],
    ['not JSON', '{ "config_groups": ', /not valid JSON/],
  ];
  for (const [what, doc, message] of cases) {
    it(what, () => {
      const f = ruleFile(doc);
      expect(() => loadRuleSet(f)).toThrow(message);
      expect(() => loadRuleSet(f)).toThrow(f);
    });
  }
  it('an unknown rule set name lists the built-in ones', () => {
    expect(() => loadRuleSet('fp8-heads')).toThrow(/no built-in rule set or file named "fp8-heads"\. Built-in: fp8-head, .*did you mean/);
  });
  it('asymmetric int is accepted with compressed-tensors\' warning about vLLM', () => {
    const r = loadRuleSet(ruleFile({ kv_cache_scheme: { ...fp8, type: 'int', symmetric: false } }));
    expect(r.warnings).toEqual(['kv_cache_scheme: vLLM does not support asymmetric kv cache quantization']);
  });
});

describe('targets are matched narrowly', () => {
  const { sites } = scanModelFile(corpusModel('llama-gqa-bytes-ts-eager'));
  const withTargets = (targets: string[], ignore: string[] = []) => loadRuleSet(ruleFile({ config_groups: { attention: { targets, input_activations: fp8 } }, ignore }));
  it('a regex naming a whole layer is refused, with why and what to write', () => {
    expect(() => planSites(withTargets(['re:model\\.model\\.layers\\.0\\..*']), sites)).toThrow(
      /target "re:model\\\.model\\\.layers\\\.0\\\.\.\*" matches attention site model\.model\.layers\.0\.self_attn, but it also matches model\.model\.layers\.0\.self_attn\.q_proj/,
    );
    expect(() => planSites(withTargets(['re:.*layers\\.1.*']), sites)).toThrow(/it also matches model\.model\.layers\.1, the module that contains the attention/);
  });
  it('a regex that also names the projections is refused', () => {
    expect(() => planSites(withTargets(['re:.*self_attn.*']), sites)).toThrow(/also matches model\.model\.layers\.0\.self_attn\.q_proj, a projection inside the attention/);
  });
  it('narrow regexes, exact names, class names and "attention" select sites; ignore removes them', () => {
    expect(planSites(withTargets(['re:.*self_attn$']), sites).map((p) => p.site.layer)).toEqual([0, 1, 2, 3]);
    expect(planSites(withTargets(['re:.*layers\\.[02]\\.self_attn$']), sites).map((p) => p.site.layer)).toEqual([0, 2]);
    expect(planSites(withTargets(['model.model.layers.3.self_attn']), sites).map((p) => p.site.layer)).toEqual([3]);
    expect(planSites(withTargets(['LlamaAttention']), sites).length).toBe(4);
    expect(planSites(withTargets(['attention'], ['model.model.layers.1.self_attn']), sites).map((p) => p.site.layer)).toEqual([0, 2, 3]);
  });
  it('an attention group quantizes Q, K and V; a kv_cache_scheme alone only K and V', () => {
    const attn = planSites(loadRuleSet('int8-head'), sites)[0]!;
    expect([attn.q?.num_bits, attn.k.num_bits, attn.v.num_bits, attn.group]).toEqual([8, 8, 8, 'attention']);
    const kv = planSites(loadRuleSet('int4-kv-head'), sites)[0]!;
    expect([kv.q, kv.k.num_bits, kv.group]).toEqual([undefined, 4, undefined]);
  });
  it('kv_cache_scheme applies only to attention with a KV cache (BERT has none)', () => {
    expect(planSites(loadRuleSet('fp8-kv-head'), scanModelFile(corpusModel('bert-random-ts-eager')).sites)).toEqual([]);
  });
});
