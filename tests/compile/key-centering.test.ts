/**
 * ctc_extensions.k_cache_centering from the rule file to the outputs: the config keeps every
 * compressed-tensors field as the same rule set without the extension writes it and adds a
 * `ctc_extensions` object naming the sites; the rule file's extension is checked key by key;
 * what cannot carry the offsets is refused with the reason (exit 1): --checkpoint (vLLM does not
 * apply it), --layerwise (no whole-graph pass to measure them), --stats saved without them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleError } from '../../src/errors.js';
import { builtinRuleFile } from '../../src/rules/load.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const rulesJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(builtinRuleFile(name), 'utf8'));

describe('key centering in the rule file and the outputs', () => {
  it('quantization_config.json: the compressed-tensors fields of int4-kv-r3, plus ctc_extensions.k_cache_centering naming the sites', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-centering-'));
    for (const rules of ['int4-kv-r3', 'int4-kv-r3-centered']) {
      const r = await ctc('compile', LLAMA, '--rules', rules, '--calib-sets', '0', '-o', join(dir, rules), '--quiet');
      expect(r.code, r.stderr).toBe(0);
    }
    const plain = JSON.parse(readFileSync(join(dir, 'int4-kv-r3', 'quantization_config.json'), 'utf8'));
    const centered = JSON.parse(readFileSync(join(dir, 'int4-kv-r3-centered', 'quantization_config.json'), 'utf8'));
    const { ctc_extensions: ext, ...rest } = centered;
    expect(rest).toEqual(plain);
    expect(ext.k_cache_centering.statistic).toBe('mean');
    expect(ext.k_cache_centering.targets).toEqual([0, 1, 2, 3].map((l) => `model.model.layers.${l}.self_attn`));
    expect(ext.k_cache_centering.description).toMatch(/vLLM and compressed-tensors do not apply it: the cache's quantization \(k_scale, or the dynamic scales\) applies to K·H − m/);
    const scales = JSON.parse(readFileSync(join(dir, 'int4-kv-r3-centered', 'scales.json'), 'utf8'));
    for (const t of ext.k_cache_centering.targets as string[]) expect(scales[`${t}.k_offset`].shape).toEqual([2, 32]);
    // the rule-set view states it too
    expect((await ctc('rules', 'int4-kv-r3-centered')).stdout).toMatch(/ctc_extensions k_cache_centering: .*vLLM does not apply/);
    expect(JSON.parse((await ctc('rules', 'int4-kv-r3-centered', '--print-config')).stdout).ctc_extensions.k_cache_centering.targets).toEqual(['LlamaAttention']);
  });

  it('the rule file: an unknown key or statistic inside ctc_extensions is refused naming it', () => {
    const base = rulesJson('int4-kv-r3-centered');
    expect(() => parseRuleSet({ ...base, ctc_extensions: { k_cache_centering: { statistic: 'median' } } }, 'x', 'x.json')).toThrow(RuleError);
    expect(() => parseRuleSet({ ...base, ctc_extensions: { k_cache_centering: { statistic: 'median' } } }, 'x', 'x.json')).toThrow(/x\.json: ctc_extensions\.k_cache_centering\.statistic/);
    expect(() => parseRuleSet({ ...base, ctc_extensions: { v_cache_centering: {} } }, 'x', 'x.json')).toThrow(/x\.json: ctc_extensions\.v_cache_centering: Extra inputs are not permitted/);
    expect(parseRuleSet({ ...base, ctc_extensions: { k_cache_centering: {} } }, 'x', 'x.json').ctcExtensions.kCacheCentering).toEqual({ statistic: 'mean' });
    expect(parseRuleSet(rulesJson('int4-kv-r3'), 'y', 'y.json').ctcExtensions.kCacheCentering).toBeNull();
  });

  it('refused with the reason: --checkpoint, --layerwise, and --stats saved without the key sums', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-centering-'));
    // centering without R3, so that the refusal is centering's own
    const { transform_config: _, ...noR3 } = rulesJson('int4-kv-r3-centered');
    const rules = join(dir, 'int4-kv-centered.json');
    writeFileSync(rules, JSON.stringify(noR3));
    // fp8, which vLLM serves (an int4 cache is refused for --checkpoint before that)
    const fp8 = join(dir, 'fp8-kv-centered.json');
    writeFileSync(fp8, JSON.stringify({ ...noR3, kv_cache_scheme: rulesJson('fp8-kv-head')['kv_cache_scheme'] }));
    const ckpt = await ctc('compile', LLAMA, '--rules', fp8, '--calib-sets', '0', '--checkpoint', join(LLAMA, '..', 'hf'), '-o', join(dir, 'a'), '--quiet');
    expect(ckpt.code).toBe(1);
    expect(ckpt.stderr).toMatch(/--checkpoint: the rule set "fp8-kv-centered" centers the keys .*vLLM does not apply/);
    const layerwise = await ctc('compile', LLAMA, '--rules', rules, '--calib-sets', '0', '--layerwise', '-o', join(dir, 'b'), '--quiet');
    expect(layerwise.code).toBe(1);
    expect(layerwise.stderr).toMatch(/--layerwise: the rule set "int4-kv-centered" centers the keys .*one whole-graph pass/);

    const stats = join(dir, 'stats.json');
    expect((await ctc('compile', LLAMA, '--rules', rules, '--calib-sets', '0-1', '--save-stats', stats, '-o', join(dir, 'c'), '--quiet')).code).toBe(0);
    const saved = JSON.parse(readFileSync(stats, 'utf8'));
    expect(saved.batches.map((b: { keySums: { site: string }[] }) => b.keySums.map((k) => k.site))).toEqual([0, 1].map(() => [0, 1, 2, 3].map((l) => `model.model.layers.${l}.self_attn`)));
    // the same statistics compile to the same scales and offsets
    expect((await ctc('compile', LLAMA, '--rules', rules, '--stats', stats, '-o', join(dir, 'd'), '--quiet')).code).toBe(0);
    expect(readFileSync(join(dir, 'd', 'scales.json'), 'utf8')).toBe(readFileSync(join(dir, 'c', 'scales.json'), 'utf8'));
    delete saved.batches[1].keySums;
    writeFileSync(stats, JSON.stringify(saved));
    const r = await ctc('compile', LLAMA, '--rules', rules, '--stats', stats, '-o', join(dir, 'e'), '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no key sums of site model\.model\.layers\.0\.self_attn .*saved without it/);
  });
});
