/**
 * A graph input or output whose declared element type is not an ONNX data type (fuzz campaign,
 * seed 20261130: cases 6600, 11163, 22265 set elem_type 99 on a corpus model's input or
 * cache output). inspect, compile --calib-random and eval each crashed later (exit 2) where they
 * looked the type up; loading must refuse the file once, naming the value (exit 1).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, TypeProtoSchema, TypeProto_TensorSchema, ValueInfoProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../src/errors.js';
import { DataType } from '../../src/ir/dtypes.js';
import { decodeModel } from '../../src/onnx/serde.js';

const info = (name: string, elemType: number) =>
  create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType }) } }) });

/** x → Identity → y, with the element types given for x and y. */
function model(inType: number, outType: number): Uint8Array {
  const graph = create(GraphProtoSchema, {
    name: 'g',
    node: [create(NodeProtoSchema, { opType: 'Identity', input: ['x'], output: ['y'], name: 'id' })],
    input: [info('x', inType)],
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
