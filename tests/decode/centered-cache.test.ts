/**
 * A quantized cache interface that holds centered, rotated keys (ctc_extensions.k_cache_centering
 * after R3, --cache-io quantized), run in onnxruntime as README says a runtime must feed it: past
 * keys written as round((K·H − m) / k_scale) per kv head, with m and k_scale read from scales.json
 * (distinct per head and per layer), past values as round(V / v_scale). The logits equal those of
 * the same rule set with float cache I/O fed the plain keys, and the present keys it returns are
 * the codes of the float-I/O model's present keys written the same way. int8 storage, because
 * onnxruntime-node passes int8 tensors both ways (not int4 or float8: README "Hosts").
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { createSession, ort, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { builtinRuleFile } from '../../src/rules/load.js';
import { hadamardMatrix } from '../../src/transform/hadamard.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

type Scales = Record<string, { shape: number[]; values: number[] }>;

/** int8 codes of x [1, heads, seq, D] per head: round((x·H − m) / scale), clamped; H and m optional. */
function codes(x: Float64Array, heads: number, D: number, scale: number[], h?: Float64Array, m?: number[]): Int8Array {
  const seq = x.length / (heads * D);
  const out = new Int8Array(x.length);
  for (let row = 0; row < heads * seq; row++) {
    const head = Math.floor(row / seq);
    for (let j = 0; j < D; j++) {
      let y = 0;
      if (h === undefined) y = x[row * D + j]!;
      else for (let i = 0; i < D; i++) y += x[row * D + i]! * h[i * D + j]!;
      if (m !== undefined) y -= m[head * D + j]!;
      out[row * D + j] = Math.max(-128, Math.min(127, Math.round(y / scale[head]!)));
    }
  }
  return out;
}

describe('--cache-io quantized with centered, rotated keys: fed as README says', () => {
  it('llama-gqa-bytes: the same logits as float cache I/O; present keys are the codes of (K·H − m) / k_scale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-centered-cache-'));
    const r3 = JSON.parse(readFileSync(builtinRuleFile('int4-kv-r3-centered'), 'utf8'));
    const rules = join(dir, 'int8-kv-r3-centered.json');
    writeFileSync(rules, JSON.stringify({ ...r3, kv_cache_scheme: { num_bits: 8, type: 'int', strategy: 'attn_head', symmetric: true, dynamic: false, observer: 'static_minmax' } }));
    const path = corpusModel('llama-gqa-bytes-ts-eager');
    const stats = join(dir, 'stats.json');
    await compile({ model: path, rules, outDir: join(dir, 'float'), calibSets: '0-1', saveStats: stats, ...quiet });
    await compile({ model: path, rules, outDir: join(dir, 'quantized'), stats: [stats], cacheIo: 'quantized', ...quiet });
    const scales = JSON.parse(readFileSync(join(dir, 'quantized', 'scales.json'), 'utf8')) as Scales;
    // the same scales and offsets both ways (one statistics file)
    expect(JSON.parse(readFileSync(join(dir, 'float', 'scales.json'), 'utf8'))).toEqual(scales);

    const set = testDataSets(loadModel(path), findDataSets(path, [], '8'))[0]!.load();
    const feeds = Object.fromEntries([...set].map(([n, t]) => [n, toOrtTensor(t)]));
    const runOn = async (file: string, f: Record<string, ort.Tensor>) => {
      const s = await createSession(file, { optimization: 'disabled' });
      try {
        return await s.run(f);
      } finally {
        await s.release();
      }
    };
    const floatOut = await runOn(join(dir, 'float', 'model.onnx'), feeds);

    const h = hadamardMatrix(32, 32);
    const site = (layer: number): string => `model.model.layers.${layer}.self_attn`;
    /** Past inputs written as README says (`centered`), or forgetting m; the logits' largest difference from float I/O's, relative. */
    const feedCache = async (centered: boolean) => {
      const quantFeeds = { ...feeds };
      for (let layer = 0; layer < 4; layer++) {
        const k = scales[`${site(layer)}.k_scale`]!.values;
        const v = scales[`${site(layer)}.v_scale`]!.values;
        const m = scales[`${site(layer)}.k_offset`]!;
        expect(m.shape).toEqual([2, 32]);
        // distinct per head: scales and offsets
        expect(k[0]).not.toBe(k[1]);
        expect(m.values.slice(0, 32)).not.toEqual(m.values.slice(32));
        for (const [kind, scale, rotate] of [['key', k, true], ['value', v, false]] as const) {
          const past = feeds[`past_key_values.${layer}.${kind}`]!;
          const offset = rotate && centered ? m.values : undefined;
          quantFeeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('int8', codes(ortToFloat64(past), 2, 32, scale, rotate ? h : undefined, offset), past.dims);
        }
      }
      const out = await runOn(join(dir, 'quantized', 'model.onnx'), quantFeeds);
      const a = ortToFloat64(floatOut['logits']!);
      const b = ortToFloat64(out['logits']!);
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]!));
        diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      }
      return { out, diff: diff / scale };
    };
    const { out: quantOut, diff } = await feedCache(true);
    const forgotten = await feedCache(false);
    // equal up to past codes that fall the other way at a rounding boundary (float64 here, float32 inside)
    expect(diff).toBeLessThan(2e-3);
    expect(forgotten.diff).toBeGreaterThan(20 * diff);

    for (let layer = 0; layer < 4; layer++) {
      const present = quantOut[`present.${layer}.key`]!;
      expect(present.type).toBe('int8');
      const want = codes(ortToFloat64(floatOut[`present.${layer}.key`]!), 2, 32, scales[`${site(layer)}.k_scale`]!.values, h, scales[`${site(layer)}.k_offset`]!.values);
      const got = present.data as Int8Array;
      let same = 0;
      for (let i = 0; i < want.length; i++) if (Math.abs(want[i]! - got[i]!) === 0) same++;
      // a value within float error of a rounding boundary may fall either way
      expect(same / want.length, `present.${layer}.key`).toBeGreaterThan(0.999);
    }

    // inspect --json names each key tensor's offset initializer; values carry none
    const cache = JSON.parse((await ctc('inspect', '--json', join(dir, 'quantized', 'model.onnx'))).stdout).cacheInterface;
    for (const t of cache.tensors) {
      if (t.name.endsWith('.key')) expect(t.offset?.initializer, t.name).toBe(`${site(Number(/\.(\d+)\.key$/.exec(t.name)![1]))}.k_offset`);
      else expect(t.offset, t.name).toBeUndefined();
    }
  });
});
