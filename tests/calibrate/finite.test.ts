/**
 * No non-finite number reaches an output: NaN or ±Inf in the calibration data, activations that
 * overflow on the user's data, and scales that a float cannot hold (NaN, Inf, zero, negative,
 * subnormal) are each exit 1 naming the set / input / element, or the edge. An exact zero range
 * still gives the dtype's epsilon, as compressed-tensors does.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { FLOAT32_EPS } from '../../src/quant/qparams.js';
import { HIDDEN, SEQ, buildAttentionGraph } from '../harness/attention-blocks.js';
import type { BlockSpec } from '../harness/attention-blocks.js';
import { ctc } from '../harness/cli.js';
import { bytesOf } from '../harness/rewrite.js';

const SPEC: BlockSpec = { heads: 2, ratio: 1, headDim: 4, layout: 'BHSD', scale: 'scores-mul', mask: 'none', cache: false, castAfterSoftmax: false, nanGuard: false, softmaxAxis: -1, projection: 'separate', mutation: 'none' };

/** A one-block attention model (input x [1, SEQ, HIDDEN]) with one data set per entry of `sets`. */
function modelWithSets(sets: readonly (readonly number[])[], dataType: DataType = DataType.FLOAT): string {
  const d = mkdtempSync(join(tmpdir(), 'ctc-finite-'));
  const model = join(d, 'model.onnx');
  writeFileSync(model, bytesOf(buildAttentionGraph([SPEC], [3], { router: false, classifier: false }).model));
  sets.forEach((values, i) => {
    mkdirSync(join(d, `test_data_set_${i}`));
    const t = dataType === DataType.DOUBLE ? new Tensor('x', DataType.DOUBLE, [1, SEQ, HIDDEN], { kind: 'raw', bytes: new Uint8Array(Float64Array.from(values).buffer) }) : Tensor.fromFloat32('x', dataType, [1, SEQ, HIDDEN], values);
    writeFileSync(join(d, `test_data_set_${i}`, 'input_0.pb'), encodeTensorFile(t));
  });
  return model;
}

const N = SEQ * HIDDEN;
const ordinary = (k: number): number[] => Array.from({ length: N }, (_, i) => Math.sin(i * 0.7 + k) * 0.8);
const withAt = (index: number, value: number): number[] => ordinary(1).map((x, i) => (i === index ? value : x));

async function compileRefused(model: string, ...args: string[]): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'ctc-finite-out-')), 'o');
  const r = await ctc('compile', model, '--rules', 'fp8-head', '-o', out, ...args);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(existsSync(out)).toBe(false);
  return r.stderr;
}

describe('calibration data must be finite', () => {
  it('NaN, +Inf and -Inf each name the set, the input file and name, and the element (flat and per axis)', async () => {
    const model = modelWithSets([ordinary(0), withAt(5, NaN), withAt(17, Infinity), withAt(23, -Infinity)]);
    expect(await compileRefused(model, '--calib-sets', '0-1')).toMatch(/test_data_set_1: input_0\.pb \("x"\) element 5 \(at \[0, 0, 5\]\) is NaN: calibration needs finite numbers.*leave it out with --calib-sets/);
    expect(await compileRefused(model, '--calib-sets', '2')).toMatch(/test_data_set_2: input_0\.pb \("x"\) element 17 \(at \[0, 2, 1\]\) is Infinity/);
    expect(await compileRefused(model, '--calib-sets', '3')).toMatch(/test_data_set_3: input_0\.pb \("x"\) element 23 \(at \[0, 2, 7\]\) is -Infinity/);
  });
  it('eval refuses non-finite data the same way', async () => {
    const model = modelWithSets([withAt(2, NaN)]);
    const r = await ctc('eval', model, model);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/test_data_set_0: input_0\.pb \("x"\) element 2 \(at \[0, 0, 2\]\) is NaN/);
  });
});

describe('activations must be finite', () => {
  it('a model that overflows on the data (finite inputs) names the set, the edge and the head', async () => {
    // 3e38 is a finite float32; times the weights and summed over 8 inputs it overflows (or, with
    // weights of both signs, gives Inf - Inf = NaN) in the Q, K and V projections.
    const model = modelWithSets([ordinary(0), ordinary(2).map((x) => (x > 0 ? 3e38 : -3e38))]);
    const msg = await compileRefused(model);
    expect(msg).toMatch(/test_data_set_1: the model's activations on edge \S+\.q_scale \(\S+\) reach (-?Infinity|NaN) on head \d: the model overflows or makes NaN on this data/);
  });
});

describe('scales a float cannot hold are refused, naming the edge', () => {
  it('all-zero activations compile (epsilon scales); all-but-zero activations (subnormal scale) are exit 1 naming the edge and head', async () => {
    const zeros = modelWithSets([new Array(N).fill(0)]);
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-finite-out-')), 'o');
    const r = await ctc('compile', zeros, '--rules', 'fp8-head', '-o', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) as Record<string, { values: number[] }>;
    const q = Object.entries(scales).find(([k]) => k.endsWith('.q_scale'))![1];
    expect(q.values).toEqual([FLOAT32_EPS, FLOAT32_EPS]);
    // 1e-37 times weights below 1: amax ~1e-37, so amax/448 ~1e-40, below float32's 1.18e-38
    const tiny = modelWithSets([ordinary(0).map((x) => x * 1e-37)]);
    expect(await compileRefused(tiny)).toMatch(/edge \S+\.q_scale \(head 0\) of \S+: the scale would be [0-9.e-]+, which is subnormal in float32 .*calibrate on data that exercises this layer, or leave the site out with "ignore"/);
  });
});
