/**
 * `ctc rules`, user rule files (narrow targets, ignore), asymmetric int8 (real zero points),
 * and the mse observer, end to end through the command line.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import { ROOT, corpusModel } from '../harness/paths.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const GPT2 = corpusModel('gpt2-bytes-ts-eager');
const RULES = join(ROOT, 'rules');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-rulefile-'));

describe('ctc rules', () => {
  it('lists every file of rules/ with its description, wrapped to 100 columns when stdout is no terminal', async () => {
    const r = await ctc('rules');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
    // rows: a line that starts with a name, continued by the indented lines under it, up to the blank line
    const rows = new Map<string, string>();
    let name = '';
    for (const l of lines.slice(2, lines.indexOf(''))) {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      if (m) rows.set((name = m[1]!), m[2]!);
      else rows.set(name, `${rows.get(name)} ${l.trim()}`);
    }
    const files = readdirSync(RULES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(13);
    expect([...rows.keys()]).toEqual(files.map((f) => f.slice(0, -'.json'.length)).sort());
    for (const f of files) expect(rows.get(f.slice(0, -'.json'.length)), f).toBe((JSON.parse(readFileSync(join(RULES, f), 'utf8')) as { description: string }).description);
  });
  it('shows one: what it quantizes and its file', async () => {
    const r = await ctc('rules', 'fp8-kv-tensor');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kv_cache_scheme: K and V at the cache of every attention with a KV cache: float8 e4m3 symmetric, one scale per tensor, observer static_minmax/);
    expect(r.stdout).toMatch(/"kv_cache_scheme": \{/);
  });
  it('an unknown name is an error with the list', async () => {
    const r = await ctc('rules', 'fp9-head');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no built-in rule set or file named "fp9-head"\. Built-in: fp8-head/);
  });
});

describe('user rule files', () => {
  it('narrow regex targets and ignore select the sites; the config keeps the targets and computes ignore', async () => {
    const d = tmp();
    const f = join(d, 'two-layers.json');
    writeFileSync(
      f,
      JSON.stringify({
        config_groups: { attention: { targets: ['re:.*layers\\.[0-2]\\.self_attn$'], input_activations: { num_bits: 8, type: 'float', strategy: 'attn_head' } } },
        ignore: ['model.model.layers.1.self_attn'],
      }),
    );
    const r = await ctc('compile', LLAMA, '--rules', f, '--calib-sets', '0-1', '-o', join(d, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rules two-layers: 2 of 4 attention site\(s\) quantized, 6 edges/);
    const config = JSON.parse(readFileSync(join(d, 'o', 'quantization_config.json'), 'utf8'));
    // as llm-compressor saves it: the targets as written, ignore computed from the model (every
    // attention no group quantizes), not copied from the rule file
    expect(config.config_groups.group_0.targets).toEqual(['re:.*layers\\.[0-2]\\.self_attn$']);
    expect(config.ignore).toEqual(['model.model.layers.1.self_attn', 'model.model.layers.3.self_attn']);
    // the observer a rule file leaves out is compressed-tensors' static default here
    expect(config.kv_cache_scheme.observer).toBe('static_minmax');
  });
  it('--strip-prefix gives checkpoint names to scales and targets; a prefix that does not fit is refused', async () => {
    const d = tmp();
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0', '-o', join(d, 'o'), '-q', '--strip-prefix', 'model.');
    expect(r.code, r.stderr).toBe(0);
    const scales = JSON.parse(readFileSync(join(d, 'o', 'scales.json'), 'utf8'));
    expect(Object.keys(scales)).toContain('model.layers.3.self_attn.q_scale');
    expect(Object.keys(scales).every((k) => k.startsWith('model.layers.'))).toBe(true);
    const config = JSON.parse(readFileSync(join(d, 'o', 'quantization_config.json'), 'utf8'));
    expect(config.config_groups.group_0.targets).toEqual([0, 1, 2, 3].map((i) => `model.layers.${i}.self_attn`));
    const bad = await ctc('compile', LLAMA, '--rules', 'fp8-head', '-o', join(d, 'p'), '--strip-prefix', 'transformer.');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--strip-prefix "transformer\.": site model\.model\.layers\.0\.self_attn does not start with it/);
  });
  it('a target naming a whole layer is refused before anything runs', async () => {
    const d = tmp();
    const f = join(d, 'broad.json');
    writeFileSync(f, JSON.stringify({ config_groups: { g: { targets: ['re:model\\.model\\.layers\\.0.*'], input_activations: { num_bits: 8, type: 'float', strategy: 'attn_head' } } } }));
    const r = await ctc('compile', LLAMA, '--rules', f, '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broad\.json: config_groups\.g: target "re:model\\\.model\\\.layers\\\.0\.\*" matches attention site model\.model\.layers\.0\.self_attn, but it also matches model\.model\.layers\.0, the module that contains the attention/);
  });
  it('asymmetric int8 KV: zero points are calibrated, written and used', async () => {
    const d = tmp();
    const f = join(d, 'asym.json');
    writeFileSync(f, JSON.stringify({ kv_cache_scheme: { num_bits: 8, type: 'int', symmetric: false, strategy: 'attn_head' } }));
    const r = await ctc('compile', GPT2, '--rules', f, '--calib-sets', '0-7', '-o', join(d, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: kv_cache_scheme: vLLM does not support asymmetric kv cache quantization/);
    const scales = JSON.parse(readFileSync(join(d, 'o', 'scales.json'), 'utf8'));
    const zp = scales['model.transformer.h.0.attn.v_zero_point'];
    expect(zp.dtype).toBe('int8');
    expect(zp.values.some((z: number) => z !== 0)).toBe(true);
    const config = JSON.parse(readFileSync(join(d, 'o', 'quantization_config.json'), 'utf8'));
    expect(config.kv_cache_scheme).toMatchObject({ symmetric: false, zp_dtype: 'torch.int8' });
    const e = await ctc('eval', GPT2, join(d, 'o', 'model.onnx'), '--sets', '8-15', '--json');
    const j = JSON.parse(e.stdout);
    expect(Math.abs(j.perplexity.candidate / j.perplexity.reference - 1)).toBeLessThan(0.01);
  });
  it('the mse observer clips ranges (smaller scales than min-max) and keeps accuracy', async () => {
    const d = tmp();
    expect((await ctc('compile', GPT2, '--rules', 'int4-kv-head', '--calib-sets', '0-3', '-o', join(d, 'minmax'), '-q')).code).toBe(0);
    const r = await ctc('compile', GPT2, '--rules', 'int4-kv-head', '--observer', 'mse', '--calib-sets', '0-3', '-o', join(d, 'mse'), '-q');
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(d, 'minmax', 'scales.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(d, 'mse', 'scales.json'), 'utf8'));
    let smaller = 0;
    for (const k of Object.keys(a)) {
      a[k].values.forEach((s: number, i: number) => {
        expect(b[k].values[i]).toBeLessThanOrEqual(s * (1 + 1e-6));
        if (b[k].values[i] < s * 0.999) smaller++;
      });
    }
    expect(smaller).toBeGreaterThan(0);
    const config = JSON.parse(readFileSync(join(d, 'mse', 'quantization_config.json'), 'utf8'));
    expect(config.kv_cache_scheme.observer).toBe('mse');
    const e = JSON.parse((await ctc('eval', GPT2, join(d, 'mse', 'model.onnx'), '--sets', '8-15', '--json')).stdout);
    expect(e.perplexity.candidate / e.perplexity.reference - 1).toBeLessThan(0.03);
  });
});
