/**
 * center-k (ctc_extensions.k_cache_centering): with quantization off, subtracting an offset m per
 * key head and channel (any m, distinct per head) leaves the model's outputs as they were, with
 * or without the R3 rotation before it, on every corpus model, on the ONNX backend tests of the
 * `Attention` op with its cache inside, and on generated attention blocks. With a quantized cache
 * interface the present keys are the original's (·H) − m, and past keys fed that way give the
 * original's logits. References: onnxruntime on the unmodified models, m and H written out here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centerK, whyNotCentered } from '../../passes/center-k.js';
import { rotateQk } from '../../passes/rotate-qk.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import type { Site } from '../../src/attention/site.js';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { ort, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { Model } from '../../src/ir/model.js';
import type { Value } from '../../src/ir/value.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { hadamardMatrix } from '../../src/transform/hadamard.js';
import { readKvOffset } from '../../src/transform/kv-offset.js';
import { blockSpec, buildAttentionGraph } from '../harness/attention-blocks.js';
import { contribAttentionModel } from '../harness/fused-op.js';
import { NODE_TESTS, corpusModel } from '../harness/paths.js';
import { readTensors } from '../harness/test-data.js';
import { powerOfTwoBlock, r3Rotation, runAsFloat64, sineFeeds } from '../harness/r3.js';

type Feeds = Record<string, ort.Tensor>;


/** Largest |a − b| relative to the largest |a| (equal infinities and NaNs, as masked scores give, count as equal). */
function maxRelDiff(a: Float64Array, b: Float64Array): number {
  expect(b.length).toBe(a.length);
  let scale = 1e-6;
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) continue;
    scale = Math.max(scale, Math.abs(a[i]!));
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
  }
  return d / scale;
}

/** An offset per kv head and channel, different for every head: (h + 1)·size + a ripple over the channels. */
const offsetFor = (s: Site, size: number): Float64Array =>
  Float64Array.from({ length: s.numKvHeads * s.headDim }, (_, i) => (Math.floor(i / s.headDim) + 1) * size + 0.1 * Math.sin(i * 1.3));

/** rotate-qk (when asked) then center-k on every site that can be centered; the sites and offsets used. */
function transform(model: Model, rotate: boolean, io: 'float' | 'quantized', size: number): { sites: Site[]; offsets: Map<Site, Float64Array>; rotated: ReadonlyMap<Value, Value>; cache: readonly string[] } {
  const sites = findSites(model, ATTENTION_PATTERNS).sites.filter((s) => whyNotCentered(s, (v) => model.graph.outputs.includes(v)) === undefined);
  const rotated = rotate ? rotateQk(model, new Map(sites.map((s) => [s, r3Rotation(powerOfTwoBlock(s.headDim))])), io).rotated : new Map<Value, Value>();
  const offsets = new Map(sites.map((s) => [s, offsetFor(s, size)]));
  const r = centerK(model, offsets, rotated, io);
  expect(r.modified).toBe(sites.length > 0);
  return { sites, offsets, rotated, cache: r.centeredCache };
}

/** Rows of `width` values times the block-diagonal H (row vectors), minus m of the row's head; rows run over [.., heads, seq, width]. */
function rotateAndShift(x: Float64Array, width: number, block: number | undefined, m: Float64Array, heads: number, seq: number): Float64Array {
  const h = block === undefined ? undefined : hadamardMatrix(width, block);
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    const head = Math.floor(r / seq) % heads;
    for (let j = 0; j < width; j++) {
      let s = 0;
      if (h === undefined) s = x[r * width + j]!;
      else for (let i = 0; i < width; i++) s += x[r * width + i]! * h[i * width + j]!;
      out[r * width + j] = s - m[head * width + j]!;
    }
  }
  return out;
}

const CORPUS_MODELS = ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'gpt2-bytes-ts-eager', 'qwen2-random-ts-eager', 'bert-random-ts-eager'];

describe('center-k with quantization off: the same outputs', () => {
  for (const name of CORPUS_MODELS) {
    it(`${name}: every output within float error, any offset, with and without R3`, async () => {
      const path = corpusModel(name);
      const inputs = testDataSets(loadModel(path), findDataSets(path, [], '0'))[0]!.load();
      const feeds: Feeds = Object.fromEntries([...inputs].map(([n, t]) => [n, toOrtTensor(t)]));
      const want = await runAsFloat64(loadModel(path), feeds);
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.double({ min: 0.05, max: 4, noNaN: true }), async (rotate, size) => {
          const model = loadModel(path);
          const { sites } = transform(model, rotate, 'float', size);
          expect(sites.length).toBeGreaterThan(0);
          const got = await runAsFloat64(model, feeds);
          expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
          for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(1e-5);
        }),
        { numRuns: 3, seed: 15 },
      );
    });
  }

  for (const [name, rotate] of [['llama-gqa-bytes-ts-eager', true], ['llama-gqa-bytes-dynamo-op23', true], ['gpt2-bytes-ts-eager', false]] as const) {
    it(`${name}${rotate ? ' after R3' : ''}, --cache-io quantized form: present keys are the original's${rotate ? '·H' : ''} − m, and past keys fed that way give the same logits`, async () => {
      const path = corpusModel(name);
      const original = loadModel(path);
      const inputs = testDataSets(original, findDataSets(path, [], '8'))[0]!.load();
      const feeds: Feeds = Object.fromEntries([...inputs].map(([n, t]) => [n, toOrtTensor(t)]));
      const want = await runAsFloat64(original, feeds);
      const model = loadModel(path);
      const { sites, offsets, cache } = transform(model, rotate, 'quantized', 0.7);
      expect(cache).toEqual(sites.flatMap((s) => [s.cache!.pastKey, s.cache!.presentKey]));
      // the record inspect reads: every centered cache tensor names its site's offset initializer
      const record = readKvOffset(model)!;
      expect(Object.keys(record.tensors).sort()).toEqual([...cache].sort());
      for (const s of sites) {
        const m = model.graph.initializers.find((v) => v.name === record.tensors[s.cache!.pastKey])!;
        expect(Array.from(m.initializer!.toFloat32())).toEqual(Array.from(Float32Array.from(offsets.get(s)!)));
      }
      const shifted: Feeds = { ...feeds };
      for (const s of sites) {
        const past = feeds[s.cache!.pastKey]!;
        const [, heads, seq] = past.dims as number[];
        shifted[s.cache!.pastKey] = new ort.Tensor('float32', Float32Array.from(rotateAndShift(ortToFloat64(past), s.headDim, rotate ? s.headDim : undefined, offsets.get(s)!, heads!, seq!)), past.dims);
      }
      const got = await runAsFloat64(model, shifted);
      expect(maxRelDiff(want['logits']!, got['logits']!)).toBeLessThan(1e-5);
      for (const s of sites) {
        const dims = original.graph.outputs.find((v) => v.name === s.cache!.presentKey)!;
        expect(dims).toBeDefined();
        const seq = want[s.cache!.presentKey!]!.length / (s.numKvHeads * s.headDim);
        const expected = rotateAndShift(want[s.cache!.presentKey!]!, s.headDim, rotate ? s.headDim : undefined, offsets.get(s)!, s.numKvHeads, seq);
        expect(maxRelDiff(expected, got[s.cache!.presentKey!]!)).toBeLessThan(1e-5);
        expect(maxRelDiff(want[s.cache!.presentValue!]!, got[s.cache!.presentValue!]!)).toBeLessThan(1e-5);
      }
    });
  }

  it('generated attention blocks (layouts, projections, caches, GQA): the same output, with and without R3', async () => {
    const spec = blockSpec.chain((s) => fc.constantFrom(2, 4, 8).map((headDim) => ({ ...s, headDim })));
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 2 }), fc.boolean(), async (blocks, rotate) => {
        const build = () => buildAttentionGraph(blocks, blocks.map(() => 3), { router: false, classifier: false }).model;
        const original = build();
        const feeds = sineFeeds(original);
        const want = await runAsFloat64(original, feeds);
        const model = build();
        const { sites } = transform(model, rotate, 'float', 1.5);
        expect(sites.length).toBe(blocks.length);
        const got = await runAsFloat64(model, feeds);
        for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(1e-5);
      }),
      { numRuns: 12, seed: 15 },
    );
  });
});

const BACKEND = existsSync(NODE_TESTS) ? readdirSync(NODE_TESTS).filter((d) => /^test_attention_.*with_past_and_present/.test(d) && !d.endsWith('_expanded')) : [];

describe('center-k on the Attention op with its cache inside (ONNX backend tests)', () => {
  const centered: string[] = [];
  it('the backend tests are there', () => expect(BACKEND.length).toBeGreaterThanOrEqual(10));
  for (const name of BACKEND) {
    it(`${name}: centered (past and new keys shifted, present shifted back) unless its scores leave the op; the same outputs`, async () => {
      const dir = join(NODE_TESTS, name);
      const model = loadModel(join(dir, 'model.onnx'));
      const site = findSites(model, ATTENTION_PATTERNS).sites[0]!;
      const why = whyNotCentered(site, (v) => model.graph.outputs.includes(v));
      const exposed = model.graph.outputs.includes(site.anchor.outputs[3]!) && site.anchor.intAttr('qk_matmul_output_mode', 0) !== 3;
      const capped = (site.anchor.floatAttr('softcap') ?? 0) !== 0;
      // the reason is given exactly when the scores are soft-capped or leave the op before the softmax
      expect(why !== undefined).toBe(exposed || capped);
      if (why !== undefined) return;
      const inputs = readTensors(join(dir, 'test_data_set_0'), 'input');
      const feeds = Object.fromEntries(model.graph.inputs.filter((v) => v.initializer === undefined).map((v, i) => [v.name, toOrtTensor(inputs[i]!)]));
      const { sites } = transform(model, true, 'float', 0.9);
      expect(sites).toHaveLength(1);
      const want = await runAsFloat64(readFileSync(join(dir, 'model.onnx')), feeds);
      const got = await runAsFloat64(model, feeds);
      // float16 models round the shifted values to float16 (about 5e-4 relative)
      const tolerance = inputs.some((t) => t.dataType === DataType.FLOAT16) ? 3e-3 : 1e-4;
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(tolerance);
      centered.push(name);
    });
  }
  it('most of them were centered (those whose scores stay inside the op)', () => {
    expect(centered.length).toBeGreaterThanOrEqual(BACKEND.length / 2);
  });
});

describe('center-k on com.microsoft MultiHeadAttention and GroupQueryAttention (packed [B, S, H·D] keys, BHSD cache inside)', () => {
  for (const op of ['mha', 'gqa'] as const) {
    it(`${op}: float cache I/O gives the same outputs; quantized cache I/O takes and gives keys·H − m`, async () => {
      const { model: original, inputs } = contribAttentionModel(op);
      const feeds: Feeds = Object.fromEntries([...inputs].map(([n, t]) => [n, toOrtTensor(t)]));
      const want = await runAsFloat64(original, feeds);
      const floatIo = contribAttentionModel(op).model;
      const { sites } = transform(floatIo, true, 'float', 0.6);
      expect(sites).toHaveLength(1);
      expect(sites[0]!.k.layout).toBe('BSE');
      const got = await runAsFloat64(floatIo, feeds);
      for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(1e-5);

      const quantIo = contribAttentionModel(op).model;
      const t = transform(quantIo, true, 'quantized', 0.6);
      const s = t.sites[0]!;
      const m = t.offsets.get(s)!;
      const past = feeds[s.cache!.pastKey]!;
      const [, heads, seq] = past.dims as number[];
      const shifted = { ...feeds, [s.cache!.pastKey]: new ort.Tensor('float32', Float32Array.from(rotateAndShift(ortToFloat64(past), s.headDim, s.headDim, m, heads!, seq!)), past.dims) };
      const out = await runAsFloat64(quantIo, shifted);
      const y = Object.keys(want).find((k) => !k.startsWith('present'))!;
      expect(maxRelDiff(want[y]!, out[y]!)).toBeLessThan(1e-5);
      const present = want[s.cache!.presentKey!]!;
      expect(maxRelDiff(rotateAndShift(present, s.headDim, s.headDim, m, s.numKvHeads, present.length / (s.numKvHeads * s.headDim)), out[s.cache!.presentKey!]!)).toBeLessThan(1e-5);
    });
  }
});
