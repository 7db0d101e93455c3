/**
 * `ctc compile --checkpoint`: OUTDIR/checkpoint/ is the input checkpoint plus the scales, in the
 * form vLLM loads. Every shard is parsed here by hand from the safetensors format; scale values
 * are compared with scales.json, the index with the shards' own headers, config.json with the
 * input's, and the quantization_config with vLLM's acceptance rules (tests/harness/vllm-acceptance.ts).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import type { CliResult } from '../harness/cli.js';
import { CORPUS, corpusModel } from '../harness/paths.js';
import { vllmProblems } from '../harness/vllm-acceptance.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const LLAMA_HF = join(CORPUS, 'llama-gqa-bytes-ts-eager', 'hf');
const GPT2 = corpusModel('gpt2-bytes-ts-eager');
const GPT2_HF = join(CORPUS, 'gpt2-bytes-ts-eager', 'hf');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-ckpt-'));
const LLAMA_ATTN = [0, 1, 2, 3].map((i) => `model.layers.${i}.self_attn`);

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}
/** A safetensors file by hand: the header entries and the data section. */
function shard(path: string): { entries: Record<string, Entry>; metadata: unknown; data: Buffer } {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const { __metadata__: metadata, ...entries } = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  return { entries, metadata, data: b.subarray(8 + n) };
}
/** Write a safetensors file by hand (for the sharded input). */
function writeShard(path: string, tensors: [string, Entry, Buffer][]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let at = 0;
  for (const [name, e, data] of tensors) {
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [at, at + data.byteLength] };
    at += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  writeFileSync(path, Buffer.concat([len, json, ...tensors.map((t) => t[2])]));
}

/** Everything a test checks about a written checkpoint, read by hand. */
function readOutput(dir: string) {
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  const shards = new Map(files.map((f) => [f, shard(join(dir, f))]));
  const tensors = new Map<string, number[]>();
  for (const s of shards.values()) for (const [k, e] of Object.entries(s.entries)) tensors.set(k, e.shape);
  return { index, files, shards, tensors, config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> };
}

function expectIndexListsEveryTensorOnce(o: ReturnType<typeof readOutput>): void {
  const listed = Object.entries(o.index.weight_map);
  let total = 0;
  const seen: string[] = [];
  for (const [f, s] of o.shards) {
    for (const [k, e] of Object.entries(s.entries)) {
      expect(o.index.weight_map[k], k).toBe(f);
      seen.push(k);
      total += e.data_offsets[1] - e.data_offsets[0];
    }
  }
  expect(new Set(seen).size).toBe(seen.length);
  expect(listed.length).toBe(seen.length);
  expect(new Set(Object.values(o.index.weight_map))).toEqual(new Set(o.files));
  expect(o.index.metadata.total_size).toBe(total);
}

function expectScalesEqualScalesJson(o: ReturnType<typeof readOutput>, scalesJsonPath: string, file: string): number {
  const scales = JSON.parse(readFileSync(scalesJsonPath, 'utf8')) as Record<string, { shape: number[]; values: number[]; dtype?: string }>;
  const s = o.shards.get(file)!;
  expect(s.metadata).toEqual({ format: 'pt' });
  let n = 0;
  for (const [name, want] of Object.entries(scales)) {
    const e = s.entries[name]!;
    expect(e, name).toBeDefined();
    expect(e.shape, name).toEqual(want.shape);
    const [b0, b1] = e.data_offsets;
    if (name.endsWith('_scale')) {
      expect(e.dtype).toBe('F32');
      expect(b1 - b0).toBe(4 * want.values.length);
      const got = Array.from({ length: want.values.length }, (_, i) => s.data.readFloatLE(b0 + 4 * i));
      expect(got, name).toEqual(want.values);
    } else {
      expect(e.dtype).toBe('F8_E4M3');
      expect([...s.data.subarray(b0, b1)]).toEqual(want.values.map(() => 0));
    }
    n++;
  }
  expect(Object.keys(s.entries).length).toBe(n);
  return n;
}

describe('compile --checkpoint, single-file llama, fp8-head', () => {
  const d = tmp();
  const dir = join(d, 'o', 'checkpoint');
  let r: CliResult;
  beforeAll(async () => {
    r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0', '--checkpoint', LLAMA_HF, '-o', join(d, 'o'), '-q');
  });

  it('writes the checkpoint beside the ONNX outputs', () => {
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/checkpoint for vLLM: .*checkpoint\/ .*24 scale tensors in model-00002-of-00002\.safetensors/);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
  });
  it('the scales shard parses and holds exactly scales.json: [H,1,1] float32 per head, zero points for the attention group', () => {
    const o = readOutput(dir);
    expect(expectScalesEqualScalesJson(o, join(d, 'o', 'scales.json'), 'model-00002-of-00002.safetensors')).toBe(24);
    expect(o.shards.get('model-00002-of-00002.safetensors')!.entries['model.layers.2.self_attn.q_scale']!.shape).toEqual([6, 1, 1]);
    expect(o.shards.get('model-00002-of-00002.safetensors')!.entries['model.layers.2.self_attn.k_scale']!.shape).toEqual([2, 1, 1]);
  });
  it('the index lists every tensor of every shard exactly once', () => {
    expectIndexListsEveryTensorOnce(readOutput(dir));
  });
  it('the weights are the input file, byte for byte, and not a hard link to it', () => {
    const placed = join(dir, 'model-00001-of-00002.safetensors');
    expect(readFileSync(placed).equals(readFileSync(join(LLAMA_HF, 'model.safetensors')))).toBe(true);
    expect(statSync(placed).ino).not.toBe(statSync(join(LLAMA_HF, 'model.safetensors')).ino);
    expect(statSync(join(LLAMA_HF, 'model.safetensors')).nlink).toBe(1);
  });
  it('config.json keeps every original key and adds the quantization_config vLLM accepts', () => {
    const o = readOutput(dir);
    const original = JSON.parse(readFileSync(join(LLAMA_HF, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(original)) expect(o.config[k], k).toEqual(v);
    expect(Object.keys(o.config).sort()).toEqual([...Object.keys(original), 'quantization_config'].sort());
    const qc = o.config['quantization_config'] as Record<string, any>;
    expect(qc.config_groups.group_0.targets).toEqual(['LlamaAttention']);
    expect(qc.quantization_status).toBe('compressed');
    expect(qc.ignore).toEqual([]);
    expect(vllmProblems({ config: o.config, tensors: o.tensors, attentionModules: LLAMA_ATTN, numHeads: 6, numKvHeads: 2 })).toEqual([]);
  });
  it('the ONNX side uses the checkpoint names too', () => {
    const scales = JSON.parse(readFileSync(join(d, 'o', 'scales.json'), 'utf8'));
    expect(Object.keys(scales)).toContain('model.layers.0.self_attn.k_scale');
  });
});

describe("vLLM's acceptance rules, as the check mirrors them", () => {
  it('refuse the module-path form ctc wrote before (weights null, targets not an attention class)', () => {
    const config = { quantization_config: { quant_method: 'compressed-tensors', config_groups: { group_0: { targets: LLAMA_ATTN, weights: null } }, kv_cache_scheme: { type: 'float', num_bits: 8, strategy: 'attn_head', symmetric: true } } };
    expect(vllmProblems({ config, tensors: new Map(), attentionModules: LLAMA_ATTN, numHeads: 6, numKvHeads: 2 })).toEqual([expect.stringMatching(/group_0 .* no weights/)]);
  });
  it('refuse int4 and wrong scale sizes', () => {
    const config = { quantization_config: { quant_method: 'compressed-tensors', config_groups: {}, kv_cache_scheme: { type: 'int', num_bits: 4, strategy: 'attn_head', symmetric: true } } };
    expect(vllmProblems({ config, tensors: new Map([['a.k_scale', [6, 1, 1]]]), attentionModules: ['a'], numHeads: 6, numKvHeads: 2 })).toEqual([
      'kv_cache_scheme num_bits=4, type=int',
      "a.k_scale has 6 values, vLLM's parameter 2",
    ]);
  });
});

describe('compile --checkpoint, other inputs', () => {
  it('a sharded input (two shards and an index): kv-only fp8 per head, config_groups {}', async () => {
    const d = tmp();
    const ck = join(d, 'sharded');
    mkdirSync(ck);
    copyFileSync(join(LLAMA_HF, 'config.json'), join(ck, 'config.json'));
    writeFileSync(join(ck, 'tokenizer_config.json'), '{"model_max_length": 88}\n');
    const whole = shard(join(LLAMA_HF, 'model.safetensors'));
    const names = Object.keys(whole.entries).sort();
    const parts: [string, string[]][] = [
      ['model-00001-of-00002.safetensors', names.slice(0, 20)],
      ['model-00002-of-00002.safetensors', names.slice(20)],
    ];
    const weightMap: Record<string, string> = {};
    for (const [f, ks] of parts) {
      writeShard(join(ck, f), ks.map((k) => [k, whole.entries[k]!, whole.data.subarray(...whole.entries[k]!.data_offsets)]));
      for (const k of ks) weightMap[k] = f;
    }
    writeFileSync(join(ck, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: whole.data.byteLength, total_parameters: whole.data.byteLength / 4 }, weight_map: weightMap }));
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '0', '--checkpoint', ck, '-o', join(d, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    const dir = join(d, 'o', 'checkpoint');
    const o = readOutput(dir);
    expect(o.files).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expectIndexListsEveryTensorOnce(o);
    expect(o.index.metadata).toMatchObject({ total_parameters: whole.data.byteLength / 4 });
    expect(expectScalesEqualScalesJson(o, join(d, 'o', 'scales.json'), 'model-00003-of-00003.safetensors')).toBe(8);
    for (const [f, ks] of parts) for (const k of ks) expect(o.index.weight_map[k]).toBe(f.replace('of-00002', 'of-00003'));
    const qc = o.config['quantization_config'] as Record<string, any>;
    expect(qc.config_groups).toEqual({});
    expect(qc.kv_cache_scheme.strategy).toBe('attn_head');
    expect(vllmProblems({ config: o.config, tensors: o.tensors, attentionModules: LLAMA_ATTN, numHeads: 6, numKvHeads: 2 })).toEqual([]);
    expect(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')).toBe('{"model_max_length": 88}\n');
  });
  it('GPT-2: the wrapper prefix is found (model.transformer.h.0.attn → transformer.h.0.attn), the class is GPT2Attention', async () => {
    const d = tmp();
    const r = await ctc('compile', GPT2, '--rules', 'fp8-tensor', '--calib-sets', '0', '--checkpoint', GPT2_HF, '-o', join(d, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    const o = readOutput(join(d, 'o', 'checkpoint'));
    expect(o.shards.get('model-00002-of-00002.safetensors')!.entries['transformer.h.3.attn.v_scale']!.shape).toEqual([1]);
    expect((o.config['quantization_config'] as any).config_groups.group_0.targets).toEqual(['GPT2Attention']);
    const attn = [0, 1, 2, 3].map((i) => `transformer.h.${i}.attn`);
    expect(vllmProblems({ config: o.config, tensors: o.tensors, attentionModules: attn, numHeads: 6, numKvHeads: 6 })).toEqual([]);
  });
  it('a custom rule file: re: targets kept in quantization_config.json, the attention class in the checkpoint, ignore computed', async () => {
    const d = tmp();
    const f = join(d, 'three.json');
    writeFileSync(f, JSON.stringify({ config_groups: { attention: { targets: ['re:.*layers\\.[0-2]\\.self_attn$'], input_activations: { num_bits: 8, type: 'float', strategy: 'attn_head' } } }, ignore: ['model.layers.1.self_attn'] }));
    const r = await ctc('compile', LLAMA, '--rules', f, '--calib-sets', '0', '--checkpoint', LLAMA_HF, '-o', join(d, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: vLLM stores the KV cache of every layer in fp8 .*model\.layers\.1\.self_attn, model\.layers\.3\.self_attn have no scales/);
    const onnxSide = JSON.parse(readFileSync(join(d, 'o', 'quantization_config.json'), 'utf8'));
    expect(onnxSide.config_groups.group_0.targets).toEqual(['re:.*layers\\.[0-2]\\.self_attn$']);
    expect(onnxSide.ignore).toEqual(['model.layers.1.self_attn', 'model.layers.3.self_attn']);
    const o = readOutput(join(d, 'o', 'checkpoint'));
    const qc = o.config['quantization_config'] as Record<string, any>;
    expect(qc.config_groups.group_0.targets).toEqual(['LlamaAttention']);
    expect(qc.ignore).toEqual(['model.layers.1.self_attn', 'model.layers.3.self_attn']);
    expect([...o.tensors.keys()].filter((k) => k.endsWith('_scale')).sort()).toEqual(
      ['model.layers.0.self_attn', 'model.layers.2.self_attn'].flatMap((m) => ['k', 'q', 'v'].map((r) => `${m}.${r}_scale`)),
    );
    expect(vllmProblems({ config: o.config, tensors: o.tensors, attentionModules: LLAMA_ATTN, numHeads: 6, numKvHeads: 2 })).toEqual([]);
  });
});

describe('compile --checkpoint refuses what vLLM cannot serve, and checkpoints that do not fit', () => {
  for (const rules of ['int4-kv-head', 'int8-head']) {
    it(`${rules}: vLLM serves fp8 caches only`, async () => {
      const d = tmp();
      const r = await ctc('compile', LLAMA, '--rules', rules, '--calib-sets', '0', '--checkpoint', LLAMA_HF, '-o', join(d, 'o'));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`rule set "${rules}" quantizes to int\\d symmetric \\w+, which vLLM cannot serve: vLLM serves 8-bit float \\(fp8 e4m3\\), symmetric KV caches only\\. Drop --checkpoint to write the ONNX model`));
      expect(() => readdirSync(join(d, 'o'))).toThrow();
    });
  }
  it('a checkpoint whose module names do not match the sites: exit 1 naming both', async () => {
    const d = tmp();
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0', '--checkpoint', GPT2_HF, '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the attention sites of the model \(model\.model\.layers\.0\.self_attn, model\.model\.layers\.1\.self_attn, …\) are not modules of the checkpoint .*gpt2-bytes-ts-eager\/hf \(its attention modules: transformer\.h\.0\.attn.*\).*--strip-prefix/);
  });
  it('--strip-prefix that does not give checkpoint names is refused naming both', async () => {
    const d = tmp();
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0', '--checkpoint', LLAMA_HF, '--strip-prefix', 'model.model.', '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--strip-prefix "model\.model\.": site model\.model\.layers\.0\.self_attn does not become a module of the checkpoint .*\(its attention modules: model\.layers\.0\.self_attn/);
  });
  it('an output whose checkpoint/ is the input checkpoint, or inside it, is refused and the input kept', async () => {
    const d = tmp();
    const ck = join(d, 'o', 'checkpoint');
    mkdirSync(ck, { recursive: true });
    copyFileSync(join(LLAMA_HF, 'config.json'), join(ck, 'config.json'));
    copyFileSync(join(LLAMA_HF, 'model.safetensors'), join(ck, 'model.safetensors'));
    for (const out of [join(d, 'o'), join(ck, 'sub')]) {
      const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--checkpoint', ck, '-o', out);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/its checkpoint\/ folder would be, hold or sit inside the input checkpoint .*; choose another -o folder/);
    }
    expect(readdirSync(ck).sort()).toEqual(['config.json', 'model.safetensors']);
  });
  it('a folder without safetensors, and a config that is already quantized', async () => {
    const d = tmp();
    mkdirSync(join(d, 'bin'));
    copyFileSync(join(LLAMA_HF, 'config.json'), join(d, 'bin', 'config.json'));
    writeFileSync(join(d, 'bin', 'pytorch_model.bin'), 'x');
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--checkpoint', join(d, 'bin'), '-o', join(d, 'o'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no model\.safetensors and no model\.safetensors\.index\.json \(it has pytorch_model\.bin: save it as safetensors/);
    mkdirSync(join(d, 'q'));
    const config = JSON.parse(readFileSync(join(LLAMA_HF, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'q', 'config.json'), JSON.stringify({ ...config, quantization_config: { quant_method: 'fp8' } }));
    copyFileSync(join(LLAMA_HF, 'model.safetensors'), join(d, 'q', 'model.safetensors'));
    const q = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--checkpoint', join(d, 'q'), '-o', join(d, 'o'));
    expect(q.code).toBe(1);
    expect(q.stderr).toMatch(/config\.json: already has a quantization_config/);
  });
  it('a config.json that cannot be read says why and what to do; one that is not JSON says so', async () => {
    const d = tmp();
    mkdirSync(join(d, 'dir', 'config.json'), { recursive: true });
    copyFileSync(join(LLAMA_HF, 'model.safetensors'), join(d, 'dir', 'model.safetensors'));
    const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--checkpoint', join(d, 'dir'), '-o', join(d, 'o1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json: cannot read \(EISDIR\): it is a folder; name a file/);
    expect(r.stderr).not.toMatch(/not valid JSON|internal error/);
    mkdirSync(join(d, 'text'));
    writeFileSync(join(d, 'text', 'config.json'), '{"model_type": "llama",');
    copyFileSync(join(LLAMA_HF, 'model.safetensors'), join(d, 'text', 'model.safetensors'));
    const t = await ctc('compile', LLAMA, '--rules', 'fp8-head', '--checkpoint', join(d, 'text'), '-o', join(d, 'o2'));
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/config\.json: not valid JSON \(/);
  });
});
