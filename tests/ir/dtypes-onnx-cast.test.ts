/**
 * The codecs against the ONNX 1.23 backend Cast tests (.cache/node/test_cast_*): each test's
 * input raw_data, decoded by ctc to float32 and encoded to the output type, must be the
 * stored output raw_data byte for byte; and the output, decoded, must equal the input's value
 * cast by ONNX's reference (checked both ways: encode and decode). The bytes are read with the
 * protobuf schema directly, not through ctc's tensor decoder.
 *
 *   input_0.pb ─ raw_data ─ decodeToFloat32(from) ─ encodeFromFloat32(to) ─▶ == output_0.pb raw_data
 *                                                   (encodeMinifloat(·, saturate=false) for no_saturate)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { DataType, dataTypeInfo, decodeToFloat32, encodeFromFloat32, encodeMinifloat } from '../../src/ir/dtypes.js';
import { NODE_TESTS } from '../harness/paths.js';

interface Raw {
  readonly type: DataType;
  readonly count: number;
  readonly bytes: Uint8Array;
}

function readRaw(file: string): Raw {
  const tp = fromBinary(TensorProtoSchema, readFileSync(file));
  expect(tp.rawData.length, `${file} stores raw_data`).toBeGreaterThan(0);
  return { type: tp.dataType as DataType, count: tp.dims.reduce((a, b) => a * Number(b), 1), bytes: tp.rawData };
}

/**
 * Casts whose ONNX semantics are not a codec of ctc's: DOUBLE → FLOAT16 rounds once from the
 * double, while ctc decodes to float32 first (a double rounding ctc never does on a model:
 * it stores float16 from float32 values only).
 */
const NOT_A_CODEC = new Set(['test_cast_DOUBLE_to_FLOAT16']);

const CASTS = readdirSync(NODE_TESTS)
  .filter((d) => /^test_cast_/.test(d) && !NOT_A_CODEC.has(d))
  .sort();

const FLOATS: ReadonlySet<DataType> = new Set([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** Element i's stored code (its bytes, little-endian, or its packed bits), read without ctc's codecs. */
function code(r: { type: DataType; bytes: Uint8Array }, i: number): number {
  const bits = dataTypeInfo(r.type).bits;
  if (bits < 8) {
    const per = 8 / bits;
    return (r.bytes[Math.floor(i / per)]! >> ((i % per) * bits)) & ((1 << bits) - 1);
  }
  let c = 0;
  for (let b = bits / 8 - 1; b >= 0; b--) c = c * 256 + r.bytes[(i * bits) / 8 + b]!;
  return c;
}

/**
 * Where ONNX's Cast and ctc's encoder mean different things, and why the element is not compared:
 *   - an integer output and an input outside its range: Cast wraps around (C conversion), ctc
 *     saturates as QuantizeLinear does (the integer saturation is pinned in dtypes.test.ts);
 *   - a NaN into float4e2m1, which has no NaN: ONNX's reference stores -0, ctc the largest
 *     value 6 (QuantizeLinear outputs of calibrated, finite data never meet it);
 *   - a NaN stored in a float output: any NaN bit pattern is the same value (ONNX writes the
 *     FNUZ NaN as a negative NaN); ctc's must be a NaN too.
 */
function skipped(from: number, to: DataType): boolean {
  const range = dataTypeInfo(to).intRange;
  if (range !== undefined && !Number.isNaN(from) && (from < range[0] || from > range[1])) return true;
  return to === DataType.FLOAT4E2M1 && Number.isNaN(from);
}

describe('codecs reproduce the ONNX backend Cast tests bit for bit', () => {
  it('the Cast tests this file expects are there (every minifloat, 4- and 2-bit integer, 16-bit float)', () => {
    expect(CASTS.length).toBe(59);
    const types = new Set(CASTS.flatMap((d) => [readRaw(join(NODE_TESTS, d, 'test_data_set_0', 'input_0.pb')).type, readRaw(join(NODE_TESTS, d, 'test_data_set_0', 'output_0.pb')).type]));
    for (const t of [DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ, DataType.FLOAT4E2M1, DataType.FLOAT8E8M0, DataType.INT4, DataType.UINT4, DataType.INT2, DataType.UINT2, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE, DataType.INT8, DataType.UINT8]) {
      expect(types.has(t), `type ${t}`).toBe(true);
    }
  });

  it.each(CASTS)('%s', (d) => {
    const set = join(NODE_TESTS, d, 'test_data_set_0');
    const input = readRaw(join(set, 'input_0.pb'));
    const output = readRaw(join(set, 'output_0.pb'));
    expect(output.count).toBe(input.count);
    const values = decodeToFloat32(input.type, input.bytes, input.count);
    const encoded = d.startsWith('test_cast_no_saturate_') ? Uint8Array.from(values, (v) => encodeMinifloat(output.type, v, false)) : encodeFromFloat32(output.type, values);
    const ours = { type: output.type, bytes: encoded };
    const decodedOutput = decodeToFloat32(output.type, output.bytes, output.count);
    let compared = 0;
    for (let i = 0; i < input.count; i++) {
      if (skipped(values[i]!, output.type)) continue;
      compared++;
      if (FLOATS.has(output.type) && Number.isNaN(decodedOutput[i])) {
        expect(Number.isNaN(decodeToFloat32(output.type, encoded, output.count)[i]), `${d}[${i}]: NaN`).toBe(true);
      } else {
        expect(code(ours, i).toString(16), `${d}[${i}]: ${values[i]}`).toBe(code(output, i).toString(16));
      }
    }
    expect(compared).toBeGreaterThan(input.count / 2);
  });
});
