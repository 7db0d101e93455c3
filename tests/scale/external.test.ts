/**
 * Models whose weights live in external data, end to end: generated Llama-shaped decoders are
 * inspected, calibrated, compiled and evaluated; the output references the input's weights
 * (copied beside it, unchanged) and adds only the scales; a model over protobuf's 2 GiB limit
 * is refused with a message, or written with --external-data.
 */
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHAPES, generateLlama } from '../../corpus/generators/llama.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { randomSets } from '../../src/calibrate/random.js';
import { createSession, toOrtTensor } from '../../src/calibrate/ort.js';
import { fileSha256 } from '../../src/calibrate/run.js';
import type { Stats } from '../../src/calibrate/stats.js';
import { edgeKeys, statsToJson } from '../../src/calibrate/stats.js';
import { scanModelFile } from '../../src/cli/inspect.js';
import { quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { deepChainModel } from '../harness/attention-blocks.js';
import { ctc } from '../harness/cli.js';
import { bytesOf } from '../harness/rewrite.js';
import { corpusModel } from '../harness/paths.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-ext-'));
const DIMS = ['--dim', 'batch=1', '--dim', 'seq=4', '--dim', 'total_seq=7', '--dim', 'past_seq=3'];

describe('generated decoders with external weights', () => {
  for (const form of ['decomposed', 'onnx-attention'] as const) {
    it(`${form}: inspect, compile (calibrated), run; the output links the same weights`, async () => {
      const d = tmp();
      const file = join(d, 'model.onnx');
      const { model } = generateLlama(SHAPES['tiny']!, { form, weights: 'inline' });
      saveModel(model, file, { externalize: { location: 'weights.bin', threshold: 1024 } });
      expect(statSync(file).size).toBeLessThan(64 * 1024);
      const { sites } = scanModelFile(file);
      expect(sites.map((s) => [s.name, s.numHeads, s.numKvHeads, s.headDim, s.cache?.presentKey])).toEqual(
        [0, 1].map((l) => [`model.layers.${l}.self_attn`, 4, 2, 16, `present.${l}.key`]),
      );
      const out = join(d, 'out');
      const r = await ctc('compile', file, '--rules', 'fp8-head', '--calib-random', '2', ...DIMS, '-o', out, '-q');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/external data weights\.bin \(\d+\.\d MiB\) placed by (reflink|copy) /);
      // the same weights, byte for byte, in a file of its own: the source keeps its single link
      expect(readFileSync(join(out, 'weights.bin')).equals(readFileSync(join(d, 'weights.bin')))).toBe(true);
      expect(statSync(join(out, 'weights.bin')).ino).not.toBe(statSync(join(d, 'weights.bin')).ino);
      expect([statSync(join(out, 'weights.bin')).nlink, statSync(join(d, 'weights.bin')).nlink]).toEqual([1, 1]);
      // every weight still points into weights.bin; only scales and zero points were added inline
      const q = loadModel(join(out, 'model.onnx'));
      const before = new Map(loadModel(file).graph.initializers.map((v) => [v.name, v.initializer!.storage]));
      for (const v of q.graph.initializers) {
        const s = v.initializer!.storage;
        if (before.has(v.name)) expect(s).toMatchObject({ kind: before.get(v.name)!.kind === 'external' ? 'external' : 'raw' });
        // new: the scales and zero points, and (raising opset 17 to 19 for float8) the axes
        // inputs that ReduceMean takes from opset 18 on
        else expect(v.name).toMatch(/\.(q|k|v)_(scale|zero_point)$|ReduceMean_axes$/);
      }
      expect(q.graph.initializers.filter((v) => /_(scale|zero_point)$/.test(v.name)).length).toBe(2 * 3 * 2); // 2 layers × q/k/v × (scale, zero point)
      // the output runs in onnxruntime from its folder, weights read through the link
      const feeds = randomSets(q, 1, new Map([['batch', 1], ['seq', 4], ['total_seq', 7], ['past_seq', 3]]))[0]!.load();
      const session = await createSession(join(out, 'model.onnx'));
      const result = await session.run(Object.fromEntries([...feeds].map(([k, t]) => [k, toOrtTensor(t)])));
      await session.release();
      expect(result['logits']!.dims).toEqual([1, 4, 256]);
      expect(Array.from(result['logits']!.data as Float32Array).every(Number.isFinite)).toBe(true);
    });
  }

  it('inspect and compile --stats never read the weights: a 32 GB sparse 8B model', async () => {
    const d = tmp();
    const file = join(d, 'model.onnx');
    const { model, weightBytes } = generateLlama(SHAPES['8B']!, { form: 'decomposed', weights: 'external', dir: d, dataFile: 'model.onnx.data' });
    saveModel(model, file);
    expect(weightBytes).toBeGreaterThan(30e9);
    expect(statSync(join(d, 'model.onnx.data')).blocks * 512).toBeLessThan(1e6); // sparse: no disk used
    const r = await ctc('inspect', file, '--json');
    const sites = JSON.parse(r.stdout).sites as { numHeads: number; numKvHeads: number; headDim: number }[];
    expect(sites.length).toBe(32);
    expect(sites[31]).toMatchObject({ numHeads: 32, numKvHeads: 8, headDim: 128 });
    // statistics as calibration elsewhere would have saved them
    const edges = quantEdges(planSites(loadRuleSet('fp8-kv-head'), findSites(model, ATTENTION_PATTERNS).sites));
    const stats: Stats = {
      format: 'ctc-stats/1',
      model: fileSha256(file),
      edges: edgeKeys(edges),
      batches: [{ set: 'test_data_set_0', edges: edges.map((e) => ({ min: new Array(e.heads).fill(-2), max: Array.from({ length: e.heads }, (_, h) => 3 + h) })) }],
    };
    writeFileSync(join(d, 'stats.json'), statsToJson(stats));
    const out = join(d, 'out');
    // --link-weights hardlink: copying 32 GB here would fill the test machine's disk
    const c = await ctc('compile', file, '--rules', 'fp8-kv-head', '--stats', join(d, 'stats.json'), '-o', out, '--json', '--link-weights', 'hardlink');
    expect(c.code, c.stderr).toBe(0);
    const j = JSON.parse(c.stdout);
    expect(j.quantizedSites).toBe(32);
    expect(j.output.external).toEqual([{ bytes: statSync(join(d, 'model.onnx.data')).size, location: 'model.onnx.data', method: 'hardlink' }]);
    expect(statSync(join(out, 'model.onnx.data')).ino).toBe(statSync(join(d, 'model.onnx.data')).ino);
    expect(statSync(join(out, 'model.onnx')).size).toBeLessThan(statSync(file).size + 64 * 1024);
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8'));
    expect(scales['model.layers.31.self_attn.k_scale']).toEqual({ shape: [8, 1, 1], values: Array.from({ length: 8 }, (_, h) => Math.fround((3 + h) / 448)) });
  }, 60_000);
});

describe('the protobuf limit', () => {
  it('a model over 2 GiB inline is refused with a message that proposes external data', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [1]);
    // 2.25 GiB of zeros: allocated lazily, never touched.
    const big = new Tensor('w', DataType.UINT8, [2 ** 31 + 2 ** 28], { kind: 'raw', bytes: new Uint8Array(2 ** 31 + 2 ** 28) });
    b.output(b.op(Op.Identity, [b.initializer('w', big)]), 'w_out');
    b.output(b.op(Op.Identity, [x]), 'y');
    const f = join(tmp(), 'big.onnx');
    expect(() => saveModel(m, f)).toThrow(/big\.onnx: the model would be 2\.25 GiB, over protobuf's 2 GiB limit; write its weights to external data \(--external-data\)/);
  });
  it('compile refuses up front, before calibrating, a model whose output would pass 2 GiB inline', async () => {
    // A legal input just under the limit: a small attention model, then a second `graph` field
    // (protobuf merges it into the first) holding one unused UINT8 initializer whose raw_data
    // runs to 2 GiB less 100 bytes. Its zeros are a hole in a sparse file: no disk is written.
    const d = tmp();
    const f = join(d, 'model.onnx');
    const small = bytesOf(deepChainModel(3).model);
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
      return [...out, n];
    };
    const total = 2 ** 31 - 1 - 100;
    // raw_data's length: the file is small + graph tag/len + tensor tag/len + name/dims/type + raw tag/len + raw.
    const head = (raw: number): number[] => {
      const tensorFields = [0x42, 3, 0x70, 0x61, 0x64, 0x08, ...varint(raw), 0x10, 2, 0x4a, ...varint(raw)]; // name "pad", dims [raw], data_type UINT8, raw_data tag+len
      const tensorLen = tensorFields.length + raw;
      const graphFields = [0x2a, ...varint(tensorLen), ...tensorFields];
      return [0x3a, ...varint(graphFields.length + raw), ...graphFields];
    };
    let raw = total - small.length - head(total).length;
    while (small.length + head(raw).length + raw !== total) raw += total - (small.length + head(raw).length + raw);
    const fd = openSync(f, 'w');
    writeSync(fd, small);
    writeSync(fd, Uint8Array.from(head(raw)));
    ftruncateSync(fd, total);
    closeSync(fd);
    expect(statSync(f).size).toBe(total);
    const r = await ctc('compile', f, '--rules', 'fp8-head', '--calib-random', '1', '-o', join(d, 'out'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/model\.onnx: the output model would be about 2\.00 GiB inline .* over protobuf's 2 GiB limit; add --external-data/);
    // The warning that calibration on random inputs starts never came, and nothing was written.
    expect(r.stderr).not.toMatch(/calibrating on/);
    expect(existsSync(join(d, 'out'))).toBe(false);
  }, 120_000);
  it('a model file over 2 GiB is refused as no ONNX model (exit 1), not an internal error', async () => {
    const d = tmp();
    const f = join(d, 'model.onnx');
    writeFileSync(f, bytesOf(deepChainModel(3).model));
    truncateSync(f, 2 ** 31 + 2 ** 20);
    const r = await ctc('inspect', f);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/model\.onnx: is 2\.00 GiB, over protobuf's 2 GiB limit, so it is no ONNX model file/);
  });
  it('--external-data writes the weights beside the model, and the outputs are the same', async () => {
    const d = tmp();
    const a = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'int8-head', '--calib-sets', '0', '-o', join(d, 'inline'), '-q');
    const b = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'int8-head', '--calib-sets', '0', '-o', join(d, 'ext'), '-q', '--external-data');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(statSync(join(d, 'ext', 'model.onnx')).size).toBeLessThan(200 * 1024);
    expect(statSync(join(d, 'ext', 'model.onnx.data')).size).toBeGreaterThan(7e6);
    const r = await ctc('eval', join(d, 'inline', 'model.onnx'), join(d, 'ext', 'model.onnx'), '--data', join(corpusModel('gpt2-bytes-ts-eager'), '..'), '--sets', '8', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const o of Object.values(j.outputs) as { maxAbs: number }[]) expect(o.maxAbs).toBe(0);
  });
});
