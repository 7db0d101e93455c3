/**
 * A float16 model compiled end to end: a generated grouped-query block with a KV cache,
 * converted to float16 with the IR (initializers and I/O), calibrated on float16 data, compiled
 * with fp8-head and int8-head. DOMAIN.md: at opsets 19–21 a QuantizeLinear's scale has the
 * activation's type, so every scale initializer must be float16; the compiled model runs in
 * onnxruntime and stays within quantization error of the float16 original.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ortToFloat64 } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import type { BlockSpec } from '../harness/attention-blocks.js';
import { HIDDEN, PAST, SEQ, buildAttentionGraph } from '../harness/attention-blocks.js';
import { toFloat16 } from '../harness/float16.js';
import { bytesOf, run } from '../harness/rewrite.js';
import { quiet } from '../harness/quiet.js';

const spec: BlockSpec = {
  heads: 4,
  ratio: 2,
  headDim: 4,
  layout: 'BHSD',
  scale: 'scores-mul',
  mask: 'add',
  cache: true,
  castAfterSoftmax: false,
  nanGuard: false,
  softmaxAxis: -1,
  projection: 'separate',
  mutation: 'none',
};

/** The float16 model and its data sets (x and the past, with per-head magnitudes) in a folder. */
function float16Case(): { file: string; sets: Map<string, Tensor>[] } {
  const g = buildAttentionGraph([spec], [], { router: false, classifier: false });
  const model = toFloat16(g.model);
  expect(model.graph.inputs.map((v) => v.name)).toEqual(['x', 'past.0.key', 'past.0.value']);
  const dir = mkdtempSync(join(tmpdir(), 'ctc-fp16-'));
  const file = join(dir, 'model.onnx');
  writeFileSync(file, bytesOf(model));
  const Hkv = spec.heads / spec.ratio;
  const sets: Map<string, Tensor>[] = [];
  for (let s = 0; s < 3; s++) {
    const x = Array.from({ length: SEQ * HIDDEN }, (_, i) => Math.sin(i * 0.37 + s) * 2);
    const past = (k: number) => Array.from({ length: Hkv * PAST * spec.headDim }, (_, i) => Math.cos(i * 0.91 + k + s) * (1 + Math.floor(i / (PAST * spec.headDim))));
    const tensors = new Map([
      ['x', Tensor.fromFloat32('x', DataType.FLOAT16, [1, SEQ, HIDDEN], x)],
      ['past.0.key', Tensor.fromFloat32('past.0.key', DataType.FLOAT16, [1, Hkv, PAST, spec.headDim], past(0))],
      ['past.0.value', Tensor.fromFloat32('past.0.value', DataType.FLOAT16, [1, Hkv, PAST, spec.headDim], past(1))],
    ]);
    const setDir = join(dir, `test_data_set_${s}`);
    mkdirSync(setDir);
    [...tensors.values()].forEach((t, i) => writeFileSync(join(setDir, `input_${i}.pb`), encodeTensorFile(t)));
    sets.push(tensors);
  }
  return { file, sets };
}

describe('a float16 model', () => {
  for (const [rules, tolerance] of [
    ['fp8-head', 0.25],
    ['int8-head', 0.05],
  ] as const) {
    it(`${rules}: float16 scales (and zero points of the storage type), runs in onnxruntime, close to the float16 original`, async () => {
      const { file, sets } = float16Case();
      const out = join(mkdtempSync(join(tmpdir(), 'ctc-fp16-out-')), 'o');
      const r = await compile({ model: file, rules, outDir: out, ...quiet });
      expect(r.qdqPairs).toBe(3);
      const compiled = loadModel(join(out, 'model.onnx'));
      const qs = [...compiled.graph.nodes].filter((n) => n.is(Op.QuantizeLinear));
      expect(qs.length).toBe(3);
      for (const q of qs) {
        expect(q.inputs[1]!.initializer!.dataType, `${q.name} scale`).toBe(DataType.FLOAT16);
        expect(q.inputs[2]!.initializer!.dataType, `${q.name} zero point`).toBe(rules === 'fp8-head' ? DataType.FLOAT8E4M3FN : DataType.INT8);
      }
      // the scales in scales.json are the float16 initializers' values, widened
      const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) as Record<string, { values: number[] }>;
      const kScale = qs.find((q) => q.name.includes('/k/'))!.inputs[1]!.initializer!.toFloat32();
      const site = Object.keys(scales).find((k) => k.endsWith('.k_scale'))!;
      expect(Array.from(kScale)).toEqual(scales[site]!.values.map((v) => Array.from(Tensor.fromFloat32('', DataType.FLOAT16, [1], [v]).toFloat32())[0]));
      expect(new Set(scales[site]!.values).size).toBe(2); // two KV heads, two scales

      // calibrated on the float16 values: per KV head, amax of the cache (present.0.key, past ⊕ new) over the sets
      const original = loadModel(file);
      const amax = [0, 0];
      for (const inputs of sets) {
        const present = ortToFloat64((await run(original, inputs))['present.0.key']!);
        present.forEach((x, i) => {
          const h = Math.floor(i / (present.length / 2));
          amax[h] = Math.max(amax[h]!, Math.abs(x));
        });
      }
      expect(scales[site]!.values).toEqual(amax.map((a) => Math.fround(a / (rules === 'fp8-head' ? 448 : 127.5))));
      for (const inputs of sets) {
        const want = ortToFloat64((await run(original, inputs))['y']!);
        const got = (await run(compiled, inputs))['y']!;
        expect(got.type).toBe('float16');
        const g64 = ortToFloat64(got);
        const range = Math.max(...Array.from(want, Math.abs));
        const err = Math.max(...Array.from(want, (w, i) => Math.abs(w - g64[i]!)));
        expect(err).toBeGreaterThan(0);
        expect(err / range).toBeLessThan(tolerance);
      }
    });
  }
});

describe('a float16 model with dynamic scales', () => {
  it('int8 asymmetric, group 2: the scales are computed in float16, the present cache is on each group\'s grid of the float16 original, and it runs close to it', async () => {
    const { file, sets } = float16Case();
    const rules = join(mkdtempSync(join(tmpdir(), 'ctc-fp16-rules-')), 'dynamic.json');
    writeFileSync(rules, JSON.stringify({ kv_cache_scheme: { num_bits: 8, type: 'int', symmetric: false, strategy: 'group', group_size: 2, dynamic: true } }));
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-fp16-out-')), 'o');
    const r = await compile({ model: file, rules, outDir: out, ...quiet });
    expect(r.qdqPairs).toBe(2);
    const compiled = loadModel(join(out, 'model.onnx'));
    const qs = [...compiled.graph.nodes].filter((n) => n.is(Op.QuantizeLinear) && n.attr('block_size') !== undefined);
    expect(qs.length).toBe(2);
    for (const q of qs) expect(q.inputs[1]!.initializer, `${q.name}: a computed scale`).toBeUndefined();
    // every constant of the scale computation has the activation's type
    const constants = compiled.graph.initializers.filter((v) => /\/(zero|range|epsilon|q_min|one)$/.test(v.name));
    expect(constants.length).toBe(2 * 5);
    for (const c of constants) expect(c.initializer!.dataType, c.name).toBe(DataType.FLOAT16);

    const original = loadModel(file);
    for (const inputs of sets) {
      const want = await run(original, inputs);
      const got = await run(compiled, inputs);
      expect(got['present.0.key']!.type).toBe('float16');
      // per group of 2 values: the dequantized pair lies within half a step of the original,
      // the step being the group's own (hi − lo)/255, with lo/hi clamped to include 0
      const w = ortToFloat64(want['present.0.key']!);
      const g = ortToFloat64(got['present.0.key']!);
      let moved = 0;
      for (let i = 0; i < w.length; i += 2) {
        const lo = Math.min(w[i]!, w[i + 1]!, 0);
        const hi = Math.max(w[i]!, w[i + 1]!, 0);
        const step = (hi - lo) / 255;
        for (const j of [i, i + 1]) {
          // float16 rounding of the values and of the step itself: 2^-10 relative
          expect(Math.abs(g[j]! - w[j]!), `element ${j}`).toBeLessThanOrEqual(step / 2 + 2 ** -10 * Math.max(Math.abs(w[j]!), step) * 2);
          if (g[j] !== w[j]) moved++;
        }
      }
      expect(moved).toBeGreaterThan(0);
      const y = ortToFloat64(want['y']!);
      const gy = ortToFloat64(got['y']!);
      const range = Math.max(...Array.from(y, Math.abs));
      expect(Math.max(...Array.from(y, (v, i) => Math.abs(v - gy[i]!))) / range).toBeLessThan(0.05);
    }
  });
});
