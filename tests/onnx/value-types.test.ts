/**
 * A graph input or output whose declared element type is not an ONNX data type (fuzz campaign,
 * seed 20261130: cases 6600, 11163, 22265 set elem_type 99 on a corpus model's input or
 * cache output). inspect, compile --calib-random and eval each crashed later (exit 2) where they
 * looked the type up; loading must refuse the file once, naming the value (exit 1).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, TensorShapeProtoSchema, TensorShapeProto_DimensionSchema, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../src/errors.js';
import { DataType } from '../../src/ir/dtypes.js';
import { decodeModel } from '../../src/onnx/serde.js';

const info = (name: string, elemType: number, dims?: bigint[]) =>
  create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType, ...(dims ? { shape: create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: d } })) }) } : {}) }) },
    }),
  });

/** x → Identity → y, with the element types given for x and y. */
function model(inType: number, outType: number, inDims?: bigint[]): Uint8Array {
  const graph = create(GraphProtoSchema, {
    name: 'g',
    node: [create(NodeProtoSchema, { opType: 'Identity', input: ['x'], output: ['y'], name: 'id' })],
    input: [info('x', inType, inDims)],
    output: [info('y', outType)],
  });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { version: 17n })], graph }));
}

describe('declared element types of graph values', () => {
  it('an ONNX data type loads, and the type is kept', () => {
    const m = decodeModel(model(DataType.FLOAT16, DataType.FLOAT16), { file: 'f.onnx' });
    expect(m.graph.inputs[0]!.type).toMatchObject({ kind: 'tensor', elemType: DataType.FLOAT16 });
  });

  it.each([
    ['an input', 99, DataType.FLOAT, /f\.onnx: value "x" has element type 99, which is not an ONNX data type/],
    ['an output', DataType.FLOAT, 99, /f\.onnx: value "y" has element type 99, which is not an ONNX data type/],
    ['an input, one past the last type (int2 is 26)', 27, DataType.FLOAT, /value "x" has element type 27/],
  ])('%s with element type outside the table is refused as a load error naming it', (_what, inType, outType, message) => {
    const load = () => decodeModel(model(inType, outType), { file: 'f.onnx' });
    expect(load).toThrow(ModelLoadError);
    expect(load).toThrow(message);
  });
});

/**
 * A declared dimension JavaScript cannot hold exactly (fuzz seed 20261201, case 30788: a
 * dimension of 2^53 and more added to Q became a head size of 1.2e16 and an array of that
 * length, exit 2) would also be written back as another number: refused when read.
 */
describe('declared dimensions', () => {
  it('2^53 − 1 loads as that number; 2^53 and 2^63 − 1 are refused naming the value', () => {
    const dims = (d: bigint) => decodeModel(model(DataType.FLOAT, DataType.FLOAT, [1n, d]), { file: 'f.onnx' }).graph.inputs[0]!.type;
    expect(dims(2n ** 53n - 1n)).toMatchObject({ shape: [1, 2 ** 53 - 1] });
    expect(() => dims(2n ** 53n)).toThrow(/value "x" declares a dimension of 9007199254740992, which no tensor can have/);
    expect(() => dims(2n ** 63n - 1n)).toThrow(ModelLoadError);
  });
});

