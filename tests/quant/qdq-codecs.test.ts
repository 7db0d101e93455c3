/**
 * The dtype codecs agree with the ONNX backend tests of QuantizeLinear/DequantizeLinear
 * (float8, int4, int2, int16, per axis, blocked) and with onnxruntime on random data.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType, decodeToFloat32, encodeFromFloat32 } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeModel } from '../../src/onnx/serde.js';
import { concatChunks } from '../../src/onnx/wire.js';
import { NODE_TESTS } from '../harness/paths.js';
import { dequantizeLinear, quantizeLinear } from '../harness/qdq-reference.js';
import { readTensors, testDataSets } from '../harness/test-data.js';

const qdqTests = readdirSync(NODE_TESTS).filter((d) => /^test_(de)?quantizelinear/.test(d));

describe('QuantizeLinear / DequantizeLinear backend tests', () => {
  it('there are 27 of them', () => expect(qdqTests.length).toBe(27));
  for (const dir of qdqTests) {
    it(dir, () => {
      const model = loadModel(join(NODE_TESTS, dir, 'model.onnx'));
      const node = model.graph.nodes[0]!;
      const [set] = testDataSets(join(NODE_TESTS, dir));
      const inputs = readTensors(set!, 'input');
      const [expected] = readTensors(set!, 'output');
      const [x, scale, zp] = inputs;
      const axis = node.intAttr('axis', 1);
      const block = node.intAttr('block_size', 0);
      const zpValues = zp ? zp.toFloat32() : undefined;
      if (node.is(Op.QuantizeLinear)) {
        const outType = expected!.dataType;
        const got = quantizeLinear(x!.toFloat32(), x!.dims, scale!.toFloat32(), scale!.dims, zpValues, outType, axis, block);
        expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(expected!.bytes()).toString('hex'));
      } else {
        const got = dequantizeLinear(x!.bytes(), x!.dataType, x!.dims, scale!.toFloat32(), scale!.dims, zpValues, axis, block);
        const want = expected!.toFloat32();
        if (expected!.dataType === DataType.FLOAT16) {
          // float16 output: compare after rounding ours to float16
          expect(Array.from(decodeToFloat32(DataType.FLOAT16, encodeFromFloat32(DataType.FLOAT16, got), got.length))).toEqual(Array.from(want));
        } else expect(Array.from(got)).toEqual(Array.from(want));
      }
    });
  }
});

async function runQdq(x: Float32Array, dims: number[], scales: number[], axis: number, qType: DataType, zps: number[]): Promise<Float64Array> {
  const m = emptyModel({ '': 21 }, 10);
  const b = new GraphBuilder(m);
  const input = b.input('x', DataType.FLOAT, dims);
  const s = b.constF32('scale', [scales.length], scales);
  const z = b.initializer('zp', new Tensor('zp', qType, [zps.length], { kind: 'raw', bytes: encodeFromFloat32(qType, zps) }));
  const q = b.op(Op.QuantizeLinear, [input, s, z], [intAttr('axis', axis)]);
  b.output(b.op(Op.DequantizeLinear, [q, s, z], [intAttr('axis', axis)]), 'y');
  const e = encodeModel(m);
  const session = await createSession(concatChunks(e.chunks, e.size), { optimization: 'disabled', intraOpThreads: 1 });
  const out = await session.run({ x: toOrtTensor(Tensor.fromFloat32('x', DataType.FLOAT, dims, x)) });
  await session.release();
  return ortToFloat64(out['y']!);
}

describe('quantize-dequantize agrees bit for bit with onnxruntime on random data', () => {
  for (const [name, qType] of [
    ['float8 e4m3fn', DataType.FLOAT8E4M3FN],
    ['int8', DataType.INT8],
    ['int4', DataType.INT4],
  ] as const) {
    it(`${name}, per axis (4 heads)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 64, maxLength: 64 }),
          fc.array(fc.float({ min: Math.fround(1e-3), max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
          fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 4, maxLength: 4 }),
          async (xs, scales, zps) => {
            const x = Float32Array.from(xs);
            const zp = qType === DataType.FLOAT8E4M3FN ? [0, 0, 0, 0] : zps;
            const got = await runQdq(x, [1, 4, 4, 4], scales, 1, qType, zp);
            const want = dequantizeLinear(
              quantizeLinear(x, [1, 4, 4, 4], Float32Array.from(scales), [4], Float32Array.from(zp), qType, 1, 0, 'skip'),
              qType,
              [1, 4, 4, 4],
              Float32Array.from(scales),
              [4],
              Float32Array.from(zp),
              1,
              0,
            );
            expect(Array.from(got)).toEqual(Array.from(want));
          },
        ),
        { numRuns: 25 },
      );
    });
  }
});
