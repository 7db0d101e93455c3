/**
 * walkRunShapes against independent references: every output of the ONNX backend node tests
 * (dims, and the values it folds, against the expected output_K.pb), and every value of the
 * corpus models it sizes against the tensor onnxruntime computes on their test data.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSession, toOrtTensor } from '../../src/calibrate/ort.js';
import type { Known } from '../../src/shapes/run-shapes.js';
import { walkRunShapes } from '../../src/shapes/run-shapes.js';
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { encodeModel } from '../../src/onnx/serde.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { NODE_TESTS, corpusModel } from '../harness/paths.js';
import { readTensors, testDataSets } from '../harness/test-data.js';

/** Two numbers equal as tensor elements: within float rounding, NaN equal to NaN, infinities exact. */
const same = (a: number, b: number): boolean => Object.is(a, b) || a === b || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));

function feedsOf(inputs: readonly Value[], tensors: readonly Tensor[]): Map<string, Tensor> {
  const real = inputs.filter((v) => v.initializer === undefined);
  return new Map(real.flatMap((v, i) => (tensors[i] ? [[v.name, tensors[i]] as const] : [])));
}

describe('walkRunShapes on the ONNX backend node tests', () => {
  it('gives each output the dims (and folded values) of the expected outputs', () => {
    let dims = 0;
    let values = 0;
    const wrong: string[] = [];
    for (const test of readdirSync(NODE_TESTS).sort()) {
      const set = join(NODE_TESTS, test, 'test_data_set_0');
      if (!existsSync(set)) continue;
      let model;
      let inputs: Tensor[];
      let expected: Tensor[];
      try {
        model = loadModel(join(NODE_TESTS, test, 'model.onnx'));
        inputs = readTensors(set, 'input');
        expected = readTensors(set, 'output');
      } catch {
        continue; // sequences, optionals, sparse tensors: no tensor files to compare with
      }
      const got = new Map<Value, Known>();
      walkRunShapes(model.graph, feedsOf(model.graph.inputs, inputs), (o) => got.set(o.value, o.known));
      model.graph.outputs.forEach((v, i) => {
        const k = got.get(v);
        const e = expected[i];
        if (k === undefined || e === undefined) return;
        dims++;
        if (k.dims.join() !== e.dims.join()) wrong.push(`${test} ${v.name}: dims [${k.dims.join()}], expected [${e.dims.join()}]`);
        else if (k.values !== undefined && e.storage.kind !== 'strings') {
          values++;
          const ev = e.toNumbers();
          const at = ev.findIndex((x, j) => !same(k.values![j]!, x));
          if (at >= 0) wrong.push(`${test} ${v.name}: element ${at} is ${k.values[at]}, expected ${ev[at]}`);
        }
      });
    }
    expect(wrong).toEqual([]);
    // Most node tests are sized (ops the walk does not know leave theirs unknown), many folded.
    expect(dims).toBeGreaterThan(1300);
    expect(values).toBeGreaterThan(400);
  });
});

describe('walkRunShapes on the corpus models', () => {
  for (const name of ['qwen2-random-ts-eager', 'llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'bert-random-ts-eager', 'gpt2-bytes-ts-eager']) {
    it(`${name}: every value it sizes has the shape onnxruntime computes`, async () => {
      const model = loadModel(corpusModel(name));
      const set = testDataSets(join(corpusModel(name), '..'))[0]!;
      const feeds = feedsOf(model.graph.inputs, readTensors(set, 'input'));
      const got = new Map<string, Known>();
      walkRunShapes(model.graph, feeds, (o) => got.set(o.value.name, o.known));
      // Every node output a graph output, so that onnxruntime hands each one back.
      const outputs = new Set(model.graph.outputs);
      for (const n of model.graph.nodes) for (const v of n.outputs) if (got.has(v.name) && !outputs.has(v)) model.graph.outputs.push(v);
      const session = await createSession(Buffer.concat(encodeModel(model).chunks), { optimization: 'disabled', externalDataDir: join(corpusModel(name), '..') });
      const out = await session.run(Object.fromEntries([...feeds].map(([k, t]) => [k, toOrtTensor(t)])), [...got.keys()]);
      await session.release();
      const wrong: string[] = [];
      for (const [k, known] of got) {
        const t = out[k]!;
        if (known.dims.join() !== t.dims.join()) wrong.push(`${k}: [${known.dims.join()}], onnxruntime [${t.dims.join()}]`);
        else if (known.values !== undefined && typeof t.data[0] !== 'string') {
          const actual = Array.from(t.data as ArrayLike<number | bigint>, Number);
          const at = actual.findIndex((x, j) => !same(known.values![j]!, x));
          if (at >= 0) wrong.push(`${k}: element ${at} is ${known.values[at]}, onnxruntime ${actual[at]}`);
        }
      }
      expect(wrong).toEqual([]);
      // The walk sizes nearly the whole graph (a model's nodes are ops it knows).
      expect(got.size).toBeGreaterThan(0.9 * model.graph.nodes.reduce((s, n) => s + n.outputs.length, 0));
    });
  }
});
