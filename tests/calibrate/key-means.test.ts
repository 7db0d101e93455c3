/**
 * Key centering's first calibration pass (src/calibrate/key-means.ts) and the offset it gives:
 * per-head, per-channel sums laid out by hand for each key layout; the mean over sets weighted
 * by their counts; μ·H for H₂ by hand; and, end to end, the `<site>.k_offset` that compile writes
 * for int4-kv-r3-centered equals the mean over the calibration sets of the float model's own
 * present keys (the whole cache, past and new) times H, computed here from onnxruntime's outputs,
 * on the Llama that concatenates the cache in the graph and on the one whose Attention op does.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Edge, Site } from '../../src/attention/site.js';
import { addPerHeadChannel, keyMeans } from '../../src/calibrate/key-means.js';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { hadamardMatrix } from '../../src/transform/hadamard.js';
import { offsetOf } from '../../src/transform/kv-offset.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const edge = (layout: Edge['layout'], headAxis: number, rank: number): Edge => ({ layout, headAxis, rank, value: undefined as never });

describe('per-head, per-channel key sums', () => {
  it('[B, H, S, D]: 2 heads, 2 positions, head dim 2', () => {
    const sum = new Float64Array(4);
    // head 0: (1, 2), (3, 4); head 1: (10, 20), (30, 40)
    addPerHeadChannel(sum, [1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2], edge('BHSD', 1, 4), 2, 2);
    expect([...sum]).toEqual([4, 6, 40, 60]);
  });
  it('[B, S, H, D]: the head is the third axis', () => {
    const sum = new Float64Array(4);
    // position 0: head 0 (1, 2), head 1 (10, 20); position 1: head 0 (3, 4), head 1 (30, 40)
    addPerHeadChannel(sum, [1, 2, 10, 20, 3, 4, 30, 40], [1, 2, 2, 2], edge('BSHD', 2, 4), 2, 2);
    expect([...sum]).toEqual([4, 6, 40, 60]);
  });
  it('packed [B, S, H·D]: the channel is the index on the last axis', () => {
    const sum = new Float64Array(4);
    addPerHeadChannel(sum, [1, 2, 10, 20, 3, 4, 30, 40], [1, 2, 4], edge('BSE', 2, 3), 2, 2);
    expect([...sum]).toEqual([4, 6, 40, 60]);
  });
  it('the mean over sets weights each by its count, and a set without sums is refused by name', () => {
    const site = { name: 'layer.0', numKvHeads: 1, headDim: 2 } as Site;
    const means = keyMeans([[{ site: 'layer.0', sum: [4, 6], count: 2 }], [{ site: 'layer.0', sum: [6, -6], count: 3 }]], [site], 'test');
    expect([...means.get(site)!]).toEqual([2, 0]);
    expect(() => keyMeans([[{ site: 'layer.0', sum: [4, 6], count: 2 }], undefined], [site], 'a.json')).toThrow(/a\.json: no key sums of site layer\.0 .*saved without it/);
  });
  it('the offset of rotated keys is μ·H: H₂ by hand, one head each', () => {
    const r = Math.SQRT1_2;
    // head 0 μ = (1, 3): (1 + 3, 1 − 3)/√2; head 1 μ = (2, 0): (2, 2)/√2
    expect([...offsetOf(Float64Array.from([1, 3, 2, 0]), 2, 2, 2)].map((x) => x / r)).toEqual([4, -2, 2, 2].map((x) => expect.closeTo(x, 12)));
    expect([...offsetOf(Float64Array.from([1, 3, 2, 0]), 2, 2, undefined)]).toEqual([1, 3, 2, 0]);
  });
});

describe('compile writes the mean of the calibration keys as <site>.k_offset', () => {
  for (const name of ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23']) {
    it(`${name}: the mean of present.N.key over sets 0–1, times H, per kv head`, async () => {
      const path = corpusModel(name);
      const out = join(mkdtempSync(join(tmpdir(), 'ctc-key-means-')), 'out');
      await compile({ model: path, rules: 'int4-kv-r3-centered', outDir: out, calibSets: '0-1', ...quiet });
      const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
      const config = JSON.parse(readFileSync(join(out, 'quantization_config.json'), 'utf8'));
      const targets = config.ctc_extensions.k_cache_centering.targets as string[];
      expect(targets).toHaveLength(4);
      // the float model's present keys: the whole cache of each layer, [1, 2, 88, 32]
      const model = loadModel(path);
      const s = await createSession(path, { optimization: 'disabled' });
      const sums = Array.from({ length: 4 }, () => new Float64Array(64));
      let rows = 0;
      for (const set of testDataSets(model, findDataSets(path, [], '0-1'))) {
        const got = await s.run(Object.fromEntries([...set.load()].map(([n, t]) => [n, toOrtTensor(t)])));
        for (let layer = 0; layer < 4; layer++) {
          const t = got[`present.${layer}.key`]!;
          const [, heads, seq, dim] = t.dims as number[];
          const data = ortToFloat64(t);
          for (let i = 0; i < data.length; i++) sums[layer]![Math.floor(i / (seq! * dim!)) % heads! * dim! + (i % dim!)]! += data[i]!;
          if (layer === 0) rows += seq!;
        }
      }
      await s.release();
      const h = hadamardMatrix(32, 32);
      targets.forEach((site, layer) => {
        const m = scales[`${site}.k_offset`]!;
        expect(m.shape).toEqual([2, 32]);
        const mean = sums[layer]!.map((x) => x / rows);
        for (let head = 0; head < 2; head++) {
          for (let j = 0; j < 32; j++) {
            let want = 0;
            for (let i = 0; i < 32; i++) want += mean[head * 32 + i]! * h[i * 32 + j]!;
            expect(m.values[head * 32 + j]!, `${site} head ${head} channel ${j}`).toBeCloseTo(want, 5);
          }
        }
        // distinct per head: the two kv heads do not share an offset
        expect(m.values.slice(0, 32)).not.toEqual(m.values.slice(32));
      });
    });
  }
});
