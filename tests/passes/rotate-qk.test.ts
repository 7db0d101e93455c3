/**
 * rotate-qk (SpinQuant R3 at q_attn and k_cache): with quantization off, the rotated graph
 * computes what the original computes, within float error, on every corpus model and on
 * generated attention blocks of random power-of-two head dims, for any Hadamard block that
 * divides the head dim and either precision. With a quantized cache interface the present keys
 * are the original's times H, and past keys fed rotated give the original's logits.
 * The references: onnxruntime on the unmodified model, and H written out by hand.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rotateQk } from '../../passes/rotate-qk.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import type { Site } from '../../src/attention/site.js';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { ort, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import type { Model } from '../../src/ir/model.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { hadamardMatrix } from '../../src/transform/hadamard.js';
import { blockSpec, buildAttentionGraph } from '../harness/attention-blocks.js';
import { corpusModel } from '../harness/paths.js';
import { r3Rotation, runAsFloat64, sineFeeds } from '../harness/r3.js';

type Feeds = Record<string, ort.Tensor>;


function maxRelDiff(a: Float64Array, b: Float64Array): number {
  let scale = 1e-6;
  for (const x of a) scale = Math.max(scale, Math.abs(x));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / scale;
}

/** x [.., D] times the block-diagonal H (row vectors). */
function timesH(x: Float64Array, width: number, block: number): Float64Array {
  const h = hadamardMatrix(width, block);
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    for (let j = 0; j < width; j++) {
      let s = 0;
      for (let i = 0; i < width; i++) s += x[r * width + i]! * h[i * width + j]!;
      out[r * width + j] = s;
    }
  }
  return out;
}

const rotateAll = (model: Model, block: (s: Site) => number, precision: 'torch.float32' | 'torch.float64', io: 'float' | 'quantized') => {
  const sites = findSites(model, ATTENTION_PATTERNS).sites;
  return { sites, result: rotateQk(model, new Map(sites.map((s) => [s, r3Rotation(block(s), precision)])), io) };
};

describe('the Hadamard matrix', () => {
  it('is Sylvester\'s, divided by √n: H₄ by hand', () => {
    const h = [...hadamardMatrix(4, 4)].map((x) => x * 2);
    expect(h).toEqual([1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1]);
  });
  it('is orthonormal and symmetric, block-diagonal when the block is smaller', () => {
    for (const [size, block] of [[1, 1], [8, 8], [32, 32], [64, 16], [12, 4]] as const) {
      const h = hadamardMatrix(size, block);
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          let dot = 0;
          for (let k = 0; k < size; k++) dot += h[i * size + k]! * h[j * size + k]!;
          expect(dot).toBeCloseTo(i === j ? 1 : 0, 12);
          expect(h[i * size + j]).toBe(h[j * size + i]);
          if (Math.floor(i / block) !== Math.floor(j / block)) expect(h[i * size + j]).toBe(0);
        }
      }
    }
  });
  it('refuses a block that is not a power of two', () => {
    expect(() => hadamardMatrix(48, 48)).toThrow(/power of two/);
  });
});

const CORPUS_MODELS = ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'gpt2-bytes-ts-eager', 'qwen2-random-ts-eager', 'bert-random-ts-eager'];

describe('rotate-qk with quantization off: the same outputs', () => {
  for (const name of CORPUS_MODELS) {
    it(`${name}: every output within float error, any block and precision`, async () => {
      const path = corpusModel(name);
      const inputs = testDataSets(loadModel(path), findDataSets(path, [], '0'))[0]!.load();
      const feeds: Feeds = Object.fromEntries([...inputs].map(([n, t]) => [n, toOrtTensor(t)]));
      const want = await runAsFloat64(loadModel(path), feeds);
      await fc.assert(
        fc.asyncProperty(fc.nat(5), fc.constantFrom<'torch.float32' | 'torch.float64'>('torch.float32', 'torch.float64'), async (log2, precision) => {
          const model = loadModel(path);
          const { sites } = rotateAll(model, (s) => Math.min(2 ** log2, s.headDim), precision, 'float');
          expect(sites.length).toBeGreaterThan(0);
          const got = await runAsFloat64(model, feeds);
          expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
          for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(1e-5);
        }),
        { numRuns: 3, seed: 15 },
      );
    });
  }

  for (const name of ['llama-gqa-bytes-ts-eager', 'gpt2-bytes-ts-eager']) {
    it(`${name}, --cache-io quantized form: present keys are the original's times H, and rotated past keys give the same logits`, async () => {
      const path = corpusModel(name);
      const original = loadModel(path);
      const inputs = testDataSets(original, findDataSets(path, [], '8'))[0]!.load();
      const feeds: Feeds = Object.fromEntries([...inputs].map(([n, t]) => [n, toOrtTensor(t)]));
      const want = await runAsFloat64(original, feeds);
      const model = loadModel(path);
      const { sites, result } = rotateAll(model, (s) => s.headDim, 'torch.float32', 'quantized');
      const D = sites[0]!.headDim;
      expect(result.rotatedCache).toEqual(sites.flatMap((s) => [s.cache!.pastKey, s.cache!.presentKey]));
      const rotatedFeeds: Feeds = { ...feeds };
      for (const s of sites) {
        const past = feeds[s.cache!.pastKey]!;
        rotatedFeeds[s.cache!.pastKey] = new ort.Tensor('float32', Float32Array.from(timesH(ortToFloat64(past), D, D)), past.dims);
      }
      const got = await runAsFloat64(model, rotatedFeeds);
      expect(maxRelDiff(want['logits']!, got['logits']!)).toBeLessThan(1e-5);
      for (const s of sites) {
        expect(maxRelDiff(timesH(want[s.cache!.presentKey!]!, D, D), got[s.cache!.presentKey!]!)).toBeLessThan(1e-5);
        expect(maxRelDiff(want[s.cache!.presentValue!]!, got[s.cache!.presentValue!]!)).toBeLessThan(1e-6);
      }
    });
  }

  it('generated attention blocks of random power-of-two head dims: the same output', async () => {
    const spec = blockSpec.chain((s) => fc.constantFrom(1, 2, 4, 8, 16).map((headDim) => ({ ...s, headDim })));
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 2 }), fc.nat(4), fc.constantFrom<'torch.float32' | 'torch.float64'>('torch.float32', 'torch.float64'), async (blocks, log2, precision) => {
        const build = () => buildAttentionGraph(blocks, blocks.map(() => 3), { router: false, classifier: false }).model;
        const original = build();
        const feeds = sineFeeds(original);
        const want = await runAsFloat64(original, feeds);
        const model = build();
        const { sites } = rotateAll(model, (s) => Math.min(2 ** log2, s.headDim), precision, 'float');
        expect(sites.length).toBe(blocks.length);
        const got = await runAsFloat64(model, feeds);
        for (const k of Object.keys(want)) expect(maxRelDiff(want[k]!, got[k]!), k).toBeLessThan(1e-5);
      }),
      { numRuns: 12, seed: 15 },
    );
  });
});
