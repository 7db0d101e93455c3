/**
 * Dynamic group quantization of the KV cache through `ctc compile`, on the GQA Llama of the
 * corpus (head_dim 32, 2 kv heads):
 *
 *   - int4-kv-r3-dynamic compiles from the model file alone (no test_data_set folder beside it,
 *     where a static rule set fails for want of data) and says it calibrated nothing;
 *   - quantization_config.json: kv_cache_scheme is compressed-tensors' serialized QuantizationArgs
 *     for these args (written out here by hand), every other key as the static int4-kv-r3 writes
 *     it; scales.json holds no k_scale / v_scale; compile.json lists the edges under dynamicEdges;
 *   - refused with exit 1 and a message naming the option and the fix: --cache-io quantized,
 *     --checkpoint, group_size 12 on head_dim 32, dynamic token, dynamic tensor, dynamic float8;
 *     an observer on a dynamic scheme is warned about and ignored;
 *   - end to end, a kv-only rule set (no transform): the compiled model's present keys and values
 *     are the float model's, put through tests/harness/dynamic-reference.ts (float64):
 *
 *       set 0 ─ float model ─▶ present.0.* ─ reference ─▶ want (layer 0, every row)
 *       set 0 ─ past_key_values.L.* ─ reference ─▶ want (every layer, the past rows)
 *       set 0 ─ compiled model ─▶ present.L.* ─────────▶ compared element by element
 *
 *     (a later layer's new rows depend on the quantized layers before it, so the float model
 *     gives no reference for them: there, and everywhere, the compiled values are checked to be
 *     a fixed point of the reference, i.e. on the grid of the group the reference puts them in).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { ctc } from '../harness/cli.js';
import type { CliResult } from '../harness/cli.js';
import { dynamicReference, mismatches } from '../harness/dynamic-reference.js';
import type { Scheme } from '../harness/dynamic-reference.js';
import { corpusModel } from '../harness/paths.js';
import { runAsFloat64 } from '../harness/r3.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const LLAMA_HF = join(LLAMA, '..', 'hf');
const LAYERS = 4;
const KV_HEADS = 2;
const HEAD_DIM = 32;
const site = (layer: number): string => `model.model.layers.${layer}.self_attn`;
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

/** compressed-tensors' QuantizationArgs(num_bits=4, type="int", strategy="group", group_size=16, symmetric=False, dynamic=True).model_dump(). */
const SERIALIZED_ARGS = {
  num_bits: 4,
  type: 'int',
  symmetric: false,
  group_size: 16,
  strategy: 'group',
  block_structure: null,
  dynamic: true,
  actorder: null,
  scale_dtype: null,
  zp_dtype: 'torch.int8',
  observer: null,
  observer_kwargs: {},
};

/** The kv-only rule set of the end-to-end check: int4 asymmetric, groups of 8 (four per head). */
const E2E: Scheme = { bits: 4, symmetric: false, groupSize: 8 };

const dir = mkdtempSync(join(tmpdir(), 'ctc-dynamic-'));
/** The model file alone: no calibration data anywhere beside it. */
const alone = join(dir, 'alone', 'model.onnx');
const kvRule = (name: string, scheme: Record<string, unknown>): string => {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ config_groups: {}, kv_cache_scheme: scheme, ignore: [] }));
  return file;
};

let dynamic: CliResult;
let static_: CliResult;
let e2e: CliResult;

beforeAll(async () => {
  mkdirSync(join(dir, 'alone'));
  copyFileSync(LLAMA, alone);
  dynamic = await ctc('compile', alone, '--rules', 'int4-kv-r3-dynamic', '-o', join(dir, 'dynamic'));
  static_ = await ctc('compile', LLAMA, '--rules', 'int4-kv-r3', '--calib-sets', '0', '-o', join(dir, 'static'), '--quiet');
  const rules = kvRule('int4-kv-group8', { num_bits: E2E.bits, type: 'int', strategy: 'group', group_size: E2E.groupSize, symmetric: E2E.symmetric, dynamic: true });
  e2e = await ctc('compile', alone, '--rules', rules, '-o', join(dir, 'e2e'), '--quiet');
});

describe('int4-kv-r3-dynamic from the model file alone', () => {
  it('compiles without calibration data and says so; a static rule set there fails for want of data', async () => {
    expect(dynamic.code, dynamic.stderr).toBe(0);
    expect(dynamic.stdout).toMatch(/no calibration: every scale is dynamic, computed in the model per token and group/);
    expect(dynamic.stdout).toMatch(/rules int4-kv-r3-dynamic: 4 of 4 attention site\(s\) quantized, 8 edges, 8 QDQ pairs/);
    for (let l = 0; l < LAYERS; l++) expect(dynamic.stdout).toMatch(new RegExp(`\\n${l} +- +dynamic +dynamic`));
    const control = await ctc('compile', alone, '--rules', 'int4-kv-r3', '-o', join(dir, 'control'), '--quiet');
    expect(control.code).toBe(1);
    expect(control.stderr).toMatch(/no test_data_set_N folders/);
  });

  it('quantization_config.json: kv_cache_scheme as compressed-tensors serializes it, every other key as the static int4-kv-r3 writes it', () => {
    expect(static_.code, static_.stderr).toBe(0);
    const { kv_cache_scheme: got, ...rest } = readJson(join(dir, 'dynamic', 'quantization_config.json'));
    const { kv_cache_scheme: staticScheme, ...staticRest } = readJson(join(dir, 'static', 'quantization_config.json'));
    expect(got).toEqual(SERIALIZED_ARGS);
    expect(rest).toEqual(staticRest);
    // the same fields as the static scheme's, no more and no fewer
    expect(Object.keys(got as object).sort()).toEqual(Object.keys(staticScheme as object).sort());
  });

  it('scales.json holds no k_scale or v_scale; compile.json lists the eight edges under dynamicEdges, none under edges', () => {
    expect(readJson(join(dir, 'dynamic', 'scales.json'))).toEqual({});
    expect(readJson(join(dir, 'static', 'scales.json'))).toHaveProperty(`${site(0)}.k_scale`);
    const record = readJson(join(dir, 'dynamic', 'compile.json'));
    expect(record['edges']).toEqual([]);
    const want = [0, 1, 2, 3].flatMap((layer) => (['k', 'v'] as const).map((role) => ({ site: site(layer), layer, role, args: SERIALIZED_ARGS, heads: KV_HEADS })));
    expect(record['dynamicEdges']).toEqual(want);
    expect(record['calibration']).toEqual({ sets: 0, from: 'none' });
  });

  it('ctc report draws the page from that record: the dynamic edges and no calibration', async () => {
    const r = await ctc('report', join(dir, 'dynamic'));
    expect(r.code, r.stderr).toBe(0);
    const page = readFileSync(join(dir, 'dynamic', 'report.html'), 'utf8');
    expect(page).toContain('<dt>quantized edges</dt><dd>0 calibrated (0 scale(s)), 8 dynamic (int4 asymmetric, group 16: scales computed in the model per token, head and group, none stored)</dd>');
    expect(page).toContain('<dt>calibration</dt><dd>none: every scale is dynamic</dd>');
  });
});

describe('what dynamic scales cannot be, refused with exit 1 naming the option and the fix', () => {
  it('--cache-io quantized and --checkpoint', async () => {
    const io = await ctc('compile', LLAMA, '--rules', 'int4-kv-r3-dynamic', '--cache-io', 'quantized', '-o', join(dir, 'io'));
    expect(io.code).toBe(1);
    expect(io.stderr).toMatch(/--cache-io quantized: the rule set "int4-kv-r3-dynamic" quantizes .* dynamically .*Use --cache-io float .* or a static rule set/);
    const ckpt = await ctc('compile', LLAMA, '--rules', 'int4-kv-r3-dynamic', '--checkpoint', LLAMA_HF, '-o', join(dir, 'ckpt'));
    expect(ckpt.code).toBe(1);
    expect(ckpt.stderr).toMatch(/--checkpoint: the rule set "int4-kv-r3-dynamic" quantizes .* dynamically .*vLLM loads calibrated k_scale\/v_scale .*Leave out --checkpoint .* or use a static rule set/);
    for (const out of ['io', 'ckpt']) expect(existsSync(join(dir, out)), out).toBe(false);
  });

  it('a group size that does not divide head_dim, dynamic token, dynamic tensor, dynamic float8, a symmetric dynamic cache', async () => {
    const base = { num_bits: 4, type: 'int', symmetric: false, dynamic: true };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['group12', { ...base, strategy: 'group', group_size: 12 }, /group12\.json: the kv_cache_scheme group_size: group_size 12 does not divide head_dim 32 of model\.model\.layers\.0\.self_attn.*use a group_size that divides 32\. Nothing was written/],
      ['token', { ...base, strategy: 'token' }, /token\.json: kv_cache_scheme\.strategy: dynamic token quantization of attention is not supported: .*one scale per batch and head, not per token.*use strategy group with group_size = head_dim/],
      ['tensor', { ...base, strategy: 'tensor' }, /tensor\.json: kv_cache_scheme\.strategy: dynamic tensor quantization of attention is not supported; dynamic quantization of attention takes strategy group/],
      ['float8', { num_bits: 8, type: 'float', symmetric: true, dynamic: true, strategy: 'group', group_size: 16 }, /float8\.json: kv_cache_scheme\.type: dynamic float8 quantization of attention is not supported; dynamic group quantization takes type int/],
      // the cache is quantized again at every step: symmetric dynamic scales would drift (amax clamps to q_max)
      ['symmetric', { ...base, symmetric: true, strategy: 'group', group_size: 16 }, /symmetric\.json: model\.model\.layers\.0\.self_attn K is cached and quantized dynamically with symmetric: true; .*each step shrinks the scale by 7\/7\.5\)\. Use symmetric: false\. Nothing was written/],
    ];
    for (const [name, scheme, message] of cases) {
      const r = await ctc('compile', LLAMA, '--rules', kvRule(name, scheme), '-o', join(dir, `refused-${name}`));
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(message);
      expect(existsSync(join(dir, `refused-${name}`)), name).toBe(false);
    }
    // the same group size in an attention group: the message names the group the args came from
    const group = join(dir, 'group12-attention.json');
    writeFileSync(group, JSON.stringify({ config_groups: { attention: { targets: ['attention'], input_activations: { num_bits: 4, type: 'int', symmetric: false, strategy: 'group', group_size: 12, dynamic: true } } } }));
    const r = await ctc('compile', LLAMA, '--rules', group, '-o', join(dir, 'refused-group12-attention'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/group12-attention\.json: the config_groups\.attention\.input_activations group_size: group_size 12 does not divide head_dim 32 of model\.model\.layers\.0\.self_attn/);
  });

  it('an observer on a dynamic scheme is warned about and left out of the config (compressed-tensors sets it to None)', async () => {
    const rules = kvRule('observer-mse', { num_bits: 4, type: 'int', symmetric: false, dynamic: true, strategy: 'group', group_size: 16, observer: 'mse' });
    const r = await ctc('compile', alone, '--rules', rules, '-o', join(dir, 'observer'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: kv_cache_scheme\.observer: "mse" is ignored: dynamic scales are computed from each tensor as it arrives/);
    expect(readJson(join(dir, 'observer', 'quantization_config.json'))['kv_cache_scheme']).toEqual(SERIALIZED_ARGS);
  });
});

describe('end to end: the compiled cache is the float cache put through the float64 reference', () => {
  it('int4 asymmetric groups of 8: layer 0 whole, every layer\'s past rows, element for element; every row a fixed point of the reference', async () => {
    expect(e2e.code, e2e.stderr).toBe(0);
    expect(readJson(join(dir, 'e2e', 'scales.json'))).toEqual({});
    const set = testDataSets(loadModel(LLAMA), findDataSets(LLAMA, [], '0'))[0]!.load();
    const feeds = Object.fromEntries([...set].map(([n, t]) => [n, toOrtTensor(t)]));
    const float = await runAsFloat64(readFileSync(LLAMA), feeds);
    const quantized = await runAsFloat64(readFileSync(join(dir, 'e2e', 'model.onnx')), feeds);
    const g = E2E.groupSize;
    let compared = 0;
    let zeroPointTies = 0;
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const name = `present.${layer}.${kind}`;
        const past = ortToFloat64(feeds[`past_key_values.${layer}.${kind}`]!);
        const got = quantized[name]!;
        const [batch, heads, pastLen] = feeds[`past_key_values.${layer}.${kind}`]!.dims as number[];
        expect([batch, heads, pastLen! > 0]).toEqual([1, KV_HEADS, true]);
        const total = got.length / (KV_HEADS * HEAD_DIM);
        expect(total).toBeGreaterThan(pastLen!);
        // the float model's present: the float past, then the new rows
        const floatPresent = float[name]!;
        if (layer === 0) {
          const want = dynamicReference(floatPresent, E2E);
          expect(mismatches(got, want, g), name).toEqual([]);
          zeroPointTies += want.zeroPointTies.length;
          compared += got.length;
          // the quantization did something: most values moved
          let moved = 0;
          for (let i = 0; i < got.length; i++) if (got[i] !== floatPresent[i]) moved++;
          expect(moved / got.length).toBeGreaterThan(0.9);
        }
        // every layer: the past rows of each head are the reference applied to the past input
        const want = dynamicReference(past, E2E);
        const rows = new Float64Array(past.length);
        for (let h = 0; h < KV_HEADS; h++) rows.set(got.subarray(h * total * HEAD_DIM, (h * total + pastLen!) * HEAD_DIM), h * pastLen! * HEAD_DIM);
        expect(mismatches(rows, want, g), `${name} past rows`).toEqual([]);
        zeroPointTies += want.zeroPointTies.length;
        compared += rows.length;
        // every row of every layer, the new rows of later layers too: already on its group's grid,
        // so that the reference applied again changes nothing (an asymmetric group's extremes
        // dequantize to (q_min − zp)·s and (q_max − zp)·s, which give back s and zp)
        expect(mismatches(got, dynamicReference(got, E2E), g), `${name} again`).toEqual([]);
      }
    }
    // nearly every group was compared (a zero point on a float32 tie is let through either way)
    expect(zeroPointTies).toBeLessThan(compared / g / 100);
  });
});
