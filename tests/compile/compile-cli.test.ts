/**
 * `ctc compile` and `ctc eval` from the command line: outputs, config, determinism, mergeable
 * statistics, and every bad-input case (exit 1, a message that says what to change, nothing
 * written).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { ctc } from '../harness/cli.js';
import { NODE_TESTS, corpusModel } from '../harness/paths.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-compile-'));
const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const GPT2 = corpusModel('gpt2-bytes-ts-eager');

describe('ctc compile', () => {
  it('writes model.onnx, quantization_config.json and scales.json; prints a summary', async () => {
    const out = join(tmp(), 'out');
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0-7', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['compile.json', 'model.onnx', 'quantization_config.json', 'scales.json']);
    expect(r.stdout).toMatch(/rules fp8-head: 4 of 4 attention site\(s\) quantized, 12 edges, 12 QDQ pairs/);
    expect(r.stdout).toMatch(/calibration: 8 set\(s\) in/);
    expect(r.stdout).toMatch(/layer\s+q scale\s+k scale\s+v scale/);
    // progress is plain lines when stderr is not a terminal
    expect(r.stderr).toMatch(/calibrating: 8\/8 \(test_data_set_7\)/);
    const config = JSON.parse(readFileSync(join(out, 'quantization_config.json'), 'utf8'));
    const args = { actorder: null, block_structure: null, dynamic: false, group_size: null, num_bits: 8, observer: 'static_minmax', observer_kwargs: {}, scale_dtype: null, strategy: 'attn_head', symmetric: true, type: 'float', zp_dtype: null };
    expect(config).toEqual({
      config_groups: {
        group_0: { format: 'dense', input_activations: args, output_activations: null, targets: [0, 1, 2, 3].map((i) => `model.model.layers.${i}.self_attn`), weights: null },
      },
      format: 'dense',
      global_compression_ratio: null,
      ignore: [],
      kv_cache_scheme: args,
      quant_method: 'compressed-tensors',
      // what llm-compressor's save_pretrained(save_compressed=True) writes
      quantization_status: 'compressed',
      sparsity_config: {},
      transform_config: {},
      version: '0.18.0',
    });
    // keys are written sorted
    const text = readFileSync(join(out, 'quantization_config.json'), 'utf8');
    expect(text.indexOf('"config_groups"')).toBeLessThan(text.indexOf('"version"'));
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8'));
    expect(scales['model.model.layers.0.self_attn.k_scale'].shape).toEqual([2, 1, 1]);
    expect(scales['model.model.layers.0.self_attn.q_scale'].shape).toEqual([6, 1, 1]);
    expect(scales['model.model.layers.0.self_attn.k_zero_point']).toEqual({ dtype: 'float8_e4m3fn', shape: [2, 1, 1], values: [0, 0] });
  });

  it('a kv-only rule set writes no config group, only kv_cache_scheme, and k/v scales', async () => {
    const out = join(tmp(), 'o');
    expect((await ctc('compile', GPT2, '--rules', 'int4-kv-tensor', '--calib-sets', '0-1', '-o', out, '--quiet')).code).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'quantization_config.json'), 'utf8'));
    expect(config.config_groups).toEqual({});
    expect(config.kv_cache_scheme).toMatchObject({ num_bits: 4, type: 'int', strategy: 'tensor' });
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8'));
    expect(Object.keys(scales).sort()).toEqual([0, 1, 2, 3].flatMap((i) => [`model.transformer.h.${i}.attn.k_scale`, `model.transformer.h.${i}.attn.v_scale`]).sort());
    expect(scales['model.transformer.h.0.attn.k_scale'].shape).toEqual([1]);
  });

  it('same inputs give byte-identical outputs', async () => {
    const a = join(tmp(), 'a');
    const b = join(tmp(), 'b');
    for (const o of [a, b]) expect((await ctc('compile', LLAMA, '--rules', 'int8-head', '--calib-sets', '0-2', '-o', o, '-q')).code).toBe(0);
    for (const f of ['model.onnx', 'quantization_config.json', 'scales.json', 'compile.json']) expect(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f).toBe(true);
  });

  it('statistics saved in two runs merge exactly as one run', async () => {
    const d = tmp();
    expect((await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '0-7', '-o', join(d, 'one'), '-q')).code).toBe(0);
    expect((await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '4-7', '-o', join(d, 'x'), '-q', '--save-stats', join(d, 'b.json'))).code).toBe(0);
    expect((await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '0-3', '-o', join(d, 'y'), '-q', '--save-stats', join(d, 'a.json'))).code).toBe(0);
    // saved statistics are deterministic: the same sets give the same file
    expect((await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '0-3', '-o', join(d, 'y2'), '-q', '--save-stats', join(d, 'a2.json'))).code).toBe(0);
    expect(readFileSync(join(d, 'a.json')).equals(readFileSync(join(d, 'a2.json')))).toBe(true);
    const merged = await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--stats', join(d, 'b.json'), join(d, 'a.json'), '-o', join(d, 'merged'));
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/statistics: 8 set\(s\) from saved files/);
    for (const f of ['model.onnx', 'scales.json']) expect(readFileSync(join(d, 'one', f)).equals(readFileSync(join(d, 'merged', f))), f).toBe(true);
    // the minmax (moving average) observer depends on order: merging still equals one run
    expect((await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--observer', 'minmax', '--calib-sets', '0-7', '-o', join(d, 'ema1'), '-q')).code).toBe(0);
    const ema = await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--observer', 'minmax', '--stats', join(d, 'b.json'), join(d, 'a.json'), '-o', join(d, 'ema2'), '-q');
    expect(ema.code, ema.stderr).toBe(0);
    expect(readFileSync(join(d, 'ema1', 'scales.json')).equals(readFileSync(join(d, 'ema2', 'scales.json')))).toBe(true);
    // statistics of another model, or of another rule set, are refused
    const other = await ctc('compile', GPT2, '--rules', 'fp8-kv-head', '--stats', join(d, 'a.json'), '-o', join(d, 'z'));
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/observed on another model/);
    const rules = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--stats', join(d, 'a.json'), '-o', join(d, 'w'));
    expect(rules.code).toBe(1);
    expect(rules.stderr).toMatch(/cover other edges than rule set "fp8-head"/);
    const twice = await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--stats', join(d, 'a.json'), join(d, 'a.json'), '-o', join(d, 'v'));
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/set test_data_set_0 appears in both/);
  }, 600_000); // nine compiles: minutes on a busy 2-core machine

  it('--json prints the summary as data', async () => {
    const r = await ctc('compile', GPT2, '--rules', 'fp8-tensor', '--calib-sets', '0', '-o', join(tmp(), 'o'), '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ sites: 4, quantizedSites: 4, qdqPairs: 12, calibrationSets: 1, rules: 'fp8-tensor' });
    expect(j.edges.length).toBe(12);
    expect(r.stderr).toBe('');
  });

  it('--calib-random draws inputs (with --dim for dynamic dims) and warns', async () => {
    const d = tmp();
    const noDim = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-random', '2', '-o', join(d, 'a'));
    expect(noDim.code).toBe(1);
    expect(noDim.stderr).toMatch(/--calib-random needs the size of every dynamic input dimension: give --dim batch=N --dim seq=N --dim total_seq=N --dim past_seq=N/);
    expect(existsSync(join(d, 'a'))).toBe(false);
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-random', '2', '--dim', 'batch=1', '--dim', 'seq=4', '--dim', 'total_seq=6', '--dim', 'past_seq=2', '-o', join(d, 'b'), '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: calibrating on 2 set\(s\) of random inputs: random data is no calibration/);
  });
});

describe('ctc compile: nothing to do, or bad input, is an error that writes nothing', () => {
  it('a model with no attention site', async () => {
    const out = join(tmp(), 'o');
    const r = await ctc('compile', join(NODE_TESTS, 'test_relu', 'model.onnx'), '--rules', 'fp8-head', '--calib-random', '1', '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no attention site found, so there is nothing to quantize; nothing was written/);
    expect(existsSync(out)).toBe(false);
  });
  it('a rule set whose targets match no site', async () => {
    const out = join(tmp(), 'o');
    const r = await ctc('compile', corpusModel('bert-random-ts-eager'), '--rules', 'fp8-kv-head', '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/matches none of the 2 attention site\(s\).*kv_cache_scheme applies only to attention with a KV cache/);
    expect(existsSync(out)).toBe(false);
  });
  it('an output folder that would overwrite the input model is refused', async () => {
    const d = tmp();
    cpSync(join(LLAMA, '..'), d, { recursive: true });
    const before = readFileSync(join(d, 'model.onnx'));
    const r = await ctc('compile', join(d, 'model.onnx'), '--rules', 'fp8-head', '-o', d, '--force');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/would overwrite the input model/);
    expect(readFileSync(join(d, 'model.onnx')).equals(before)).toBe(true);
  });
  it('an existing output is kept unless --force', async () => {
    const out = join(tmp(), 'o');
    expect((await ctc('compile', GPT2, '--rules', 'fp8-head', '--calib-sets', '0', '-o', out, '-q')).code).toBe(0);
    const r = await ctc('compile', GPT2, '--rules', 'int8-head', '--calib-sets', '0', '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already holds a model\.onnx; choose another -o folder or pass --force/);
    expect((await ctc('compile', GPT2, '--rules', 'int8-head', '--calib-sets', '0', '-o', out, '-q', '--force')).code).toBe(0);
  });
  it('calibration data that does not match the graph names the set, the input and the expectation', async () => {
    const d = tmp();
    const set = join(d, 'test_data_set_0');
    mkdirSync(set);
    const src = join(LLAMA, '..', 'test_data_set_0');
    for (const f of readdirSync(src)) cpSync(join(src, f), join(set, f));
    writeFileSync(join(set, 'input_1.pb'), encodeTensorFile(Tensor.fromFloat32('attention_mask', DataType.FLOAT, [1, 88], new Array(88).fill(1))));
    let r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib', d, '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/test_data_set_0: input_1\.pb is float\[1, 88\], but the model's input "attention_mask" expects int64\[batch, total_seq\]/);
    writeFileSync(join(set, 'input_1.pb'), encodeTensorFile(Tensor.fromInt64('attention_mask', [88], new Array(88).fill(1))));
    r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib', d, '-o', join(d, 'o'));
    expect(r.stderr).toMatch(/input_1\.pb is int64\[88\], but the model's input "attention_mask" expects int64\[batch, total_seq\]/);
    for (const f of readdirSync(set)) if (f !== 'input_0.pb') writeFileSync(join(set, f), '');
    for (const f of readdirSync(set)) if (f !== 'input_0.pb') cpSync(join(src, 'input_0.pb'), join(d, 'spare.pb'));
    const only = join(d, 'only');
    mkdirSync(join(only, 'test_data_set_0'), { recursive: true });
    cpSync(join(src, 'input_0.pb'), join(only, 'test_data_set_0', 'input_0.pb'));
    r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib', only, '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/test_data_set_0: has 1 input file\(s\), but the model takes 10: missing input_1\.pb for "attention_mask"/);
    expect(existsSync(join(d, 'o'))).toBe(false);
  });
  it('sets that do not exist, and conflicting flags', async () => {
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '14-20', '-o', join(tmp(), 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sets 16-20 are not in .*llama-gqa-bytes-ts-eager \(it has sets 0-15\); choose among those/);
    const s = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--stats', 'a.json', '--calib-sets', '0', '-o', join(tmp(), 'o'));
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/--stats compiles from saved statistics: it cannot be combined with --calib/);
    const m = await ctc('compile', LLAMA, '-o', join(tmp(), 'o'));
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/name a rule set: --rules fp8-head/);
  });
  it('--ep cuda without the CUDA provider says how to install it; --ep cuda,cpu falls back with a warning', async () => {
    const d = tmp();
    const r = await ctc('compile', GPT2, '--rules', 'fp8-head', '--calib-sets', '0', '--ep', 'cuda', '-o', join(d, 'a'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/execution provider cuda could not be loaded .*ONNXRUNTIME_NODE_INSTALL=cuda12.*CUDA 12 and cuDNN 9/);
    expect(existsSync(join(d, 'a'))).toBe(false);
    const f = await ctc('compile', GPT2, '--rules', 'fp8-head', '--calib-sets', '0', '--ep', 'cuda,cpu', '-o', join(d, 'b'), '-q');
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/warning: execution provider cuda is not available .*falling back to cpu/);
    expect((await ctc('compile', GPT2, '--rules', 'fp8-head', '--ep', 'tpu', '-o', join(d, 'c'))).stderr).toMatch(/--ep tpu: execution providers are cpu and cuda/);
  });
});

describe('ctc eval', () => {
  it('--json reports perplexity, KL and top-1 agreement for a causal LM', async () => {
    const out = join(tmp(), 'o');
    expect((await ctc('compile', GPT2, '--rules', 'int4-kv-head', '--calib-sets', '0-7', '-o', out, '-q')).code).toBe(0);
    const r = await ctc('eval', GPT2, join(out, 'model.onnx'), '--sets', '8-15', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.sets).toBe(8);
    expect(j.tokens).toBe(504);
    expect(j.perplexity.reference).toBeCloseTo(2.47497, 4);
    expect(Math.abs(j.perplexity.candidate / 2.498712506521414 - 1)).toBeLessThan(0.002);
    expect(j.kl).toBeGreaterThan(0);
    expect(j.top1Agreement).toBeGreaterThan(0.9);
    expect(j.top1Agreement).toBeLessThan(1);
    expect(Object.keys(j.outputs)).toContain('present.3.value');
  });
  it('a model compared with itself differs by nothing', async () => {
    const m = corpusModel('bert-random-ts-eager');
    const r = await ctc('eval', m, m, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.outputs.last_hidden_state).toEqual({ maxAbs: 0, meanAbs: 0 });
    expect(j.perplexity).toBeUndefined();
  });
  it('a candidate without the reference outputs is refused', async () => {
    const r = await ctc('eval', GPT2, corpusModel('bert-random-ts-eager'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/output "logits" float\[batch, seq, 256\]: the candidate lacks the reference's output/);
  });
});
