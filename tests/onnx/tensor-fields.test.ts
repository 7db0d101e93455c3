/**
 * Tensors whose values do not fit their shape or type, as the fuzz campaign (npm run fuzz)
 * produced them by changing one TensorProto field of a corpus model. Loading must refuse each
 * with a message naming the tensor (exit 1), never read past the values or crash later when
 * site finding reads the constant (exit 2, seed 3: cases 1457, 1993, 2031).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema, TensorProtoSchema, ValueInfoProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../src/errors.js';
import { DataType } from '../../src/ir/dtypes.js';
import { decodeModel } from '../../src/onnx/serde.js';

/** A model whose one initializer `w` feeds an Identity. */
type TensorInit = MessageInitShape<typeof TensorProtoSchema>;

function modelWith(w: TensorInit): Uint8Array {
  const t = create(TensorProtoSchema, { name: 'w', ...w });
  const graph = create(GraphProtoSchema, {
    name: 'g',
    initializer: [t],
    node: [create(NodeProtoSchema, { opType: 'Identity', input: ['w'], output: ['y'], name: 'id' })],
    output: [create(ValueInfoProtoSchema, { name: 'y' })],
  });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { version: 17n })], graph }));
}
const load = (w: TensorInit) => decodeModel(modelWith(w), { file: 'f.onnx' }).graph.initializers[0]!.initializer!;

describe('tensor values against shape and type', () => {
  it('values in the field their type names, as many as the shape holds, load', () => {
    expect(load({ dataType: DataType.INT64, dims: [3n], int64Data: [4n, -1n, 7n] }).toNumbers()).toEqual([4, -1, 7]);
    expect(load({ dataType: DataType.FLOAT, dims: [2n], floatData: [0.5, -2] }).toNumbers()).toEqual([0.5, -2]);
    expect(load({ dataType: DataType.FLOAT, dims: [0n] }).size).toBe(0);
    // int4 packs two values per int32_data entry: 3 values take 2 entries.
    expect(load({ dataType: DataType.INT4, dims: [3n], int32Data: [0x21, 0x03] }).bytes()).toEqual(new Uint8Array([0x21, 0x03]));
  });

  const refused: [string, TensorInit, RegExp][] = [
    ['more values than the shape holds (case 2031)', { dataType: DataType.INT64, dims: [0n], int64Data: [5n] }, /"w" \(initializer\) has 1 value\(s\) in int64_data, but its shape \[0\] needs 0/],
    ['a huge dimension over few values (case 1993)', { dataType: DataType.INT64, dims: [2n ** 31n], int64Data: [1n, 2n] }, /has 2 value\(s\) in int64_data, but its shape \[2147483648\] needs 2147483648/],
    ['fewer values than the shape holds', { dataType: DataType.INT64, dims: [2n, 2n], int64Data: [1n] }, /needs 4/],
    ['no values at all', { dataType: DataType.FLOAT, dims: [3n] }, /has 0 value\(s\) in float_data, but its shape \[3\] needs 3/],
    ['a string tensor with int64 values (case 1457)', { dataType: DataType.STRING, dims: [1n], int64Data: [1n] }, /is string but has values in int64_data; they belong in string_data or raw_data/],
    ['a string tensor with raw_data', { dataType: DataType.STRING, dims: [1n], rawData: new Uint8Array(8) }, /string tensor with raw_data/],
    ['values in another type\'s field', { dataType: DataType.FLOAT, dims: [1n], int64Data: [1n] }, /is float but has values in int64_data; they belong in float_data/],
    ['a negative dimension', { dataType: DataType.FLOAT, dims: [-1n], rawData: new Uint8Array(0) }, /has shape \[-1\]; dimensions are whole numbers >= 0/],
    ['an undefined data type', { dataType: 0, dims: [1n], rawData: new Uint8Array(4) }, /unknown data type 0/],
  ];
  for (const [what, t, message] of refused) {
    it(`refused: ${what}`, () => {
      expect(() => load(t)).toThrow(ModelLoadError);
      expect(() => load(t)).toThrow(message);
    });
  }
});

/**
 * External data must hold exactly the shape's bytes, as onnxruntime requires (fuzz seed 20261201,
 * case 23204: a one-element int64 tensor moved to external data of length 0 was read past the
 * end of its region, exit 2). Without `length`, the region runs to the end of the file and
 * must be at least as long; the tensor then reads only its own bytes.
 */
describe('external data against shape and type', () => {
  const external = (entries: Record<string, string>, fileSize: number) =>
    decodeModel(
      modelWith({ dataType: DataType.INT64, dims: [2n], dataLocation: 1, externalData: Object.entries(entries).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })) }),
      { file: 'f.onnx', resolveExternal: (location) => ({ path: `/data/${location}`, size: fileSize }) },
    );
  it('a region of exactly the shape\'s bytes loads, with or without `length`', () => {
    expect(external({ location: 'w.bin', offset: '8', length: '16' }, 24).graph.initializers[0]!.initializer!.storage).toMatchObject({ kind: 'external', offset: 8, length: 16 });
    expect(external({ location: 'w.bin', offset: '8' }, 40).graph.initializers[0]!.initializer!.storage).toMatchObject({ kind: 'external', offset: 8, length: 16 });
  });
  it.each([
    ['a length shorter than the shape needs', { location: 'w.bin', length: '0' }, 64, /"w" \(initializer\) has 0 bytes in external data "w.bin", but its shape \[2\] needs 16/],
    ['a length longer than the shape needs', { location: 'w.bin', length: '24' }, 64, /has 24 bytes in external data "w.bin", but its shape \[2\] needs 16/],
    ['no length and too little file after the offset', { location: 'w.bin', offset: '56' }, 64, /has 8 bytes in external data "w.bin", but its shape \[2\] needs 16/],
  ])('%s is refused, naming the tensor and the file', (_what, entries, size, message) => {
    expect(() => external(entries, size)).toThrow(ModelLoadError);
    expect(() => external(entries, size)).toThrow(message);
  });
});

