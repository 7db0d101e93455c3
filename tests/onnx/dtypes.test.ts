import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DataType,
  dataTypeInfo,
  decodeBFloat16,
  decodeFloat16,
  decodeMinifloat,
  decodeToFloat32,
  encodeBFloat16,
  encodeFloat16,
  encodeFromFloat32,
  encodeMinifloat,
  minifloatMax,
  packSubByte,
  rawByteLength,
  roundHalfEven,
  unpackSubByte,
} from '../../src/onnx/dtypes.js';

describe('data type table', () => {
  it('has every ONNX data type with its size and IR version', () => {
    expect(dataTypeInfo(DataType.FLOAT8E4M3FN)).toMatchObject({ name: 'float8e4m3fn', bits: 8, minIrVersion: 9, minQdqOpset: 19 });
    expect(dataTypeInfo(DataType.INT4)).toMatchObject({ bits: 4, minIrVersion: 10, intRange: [-8, 7] });
    expect(dataTypeInfo(DataType.FLOAT4E2M1)).toMatchObject({ bits: 4, minIrVersion: 11 });
    expect(dataTypeInfo(DataType.INT2)).toMatchObject({ bits: 2, minIrVersion: 13, intRange: [-2, 1] });
    expect(rawByteLength(DataType.INT4, 5)).toBe(3);
    expect(rawByteLength(DataType.UINT2, 5)).toBe(2);
    expect(rawByteLength(DataType.BFLOAT16, 3)).toBe(6);
    expect(() => dataTypeInfo(99)).toThrow(/unknown ONNX data type 99/);
  });
});

describe('float8 codecs (hand-computed from the ONNX float8 tables)', () => {
  it('e4m3fn: max 448, NaN 0x7f, subnormal 2^-9, saturation and round-half-even', () => {
    expect(minifloatMax(DataType.FLOAT8E4M3FN)).toBe(448);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 448)).toBe(0x7e);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 1000)).toBe(0x7e); // saturates
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, -1000)).toBe(0xfe);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, Infinity)).toBe(0x7e);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, NaN)).toBe(0x7f);
    expect(decodeMinifloat(DataType.FLOAT8E4M3FN, 0x01)).toBe(2 ** -9);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 1)).toBe(0x38);
    // 1.0625 lies halfway between 1 (0x38, even) and 1.125 (0x39): ties to even.
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 1.0625)).toBe(0x38);
    // 1.1875 lies halfway between 1.125 (0x39) and 1.25 (0x3a): ties to even 0x3a.
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 1.1875)).toBe(0x3a);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, -0)).toBe(0x80);
    // Half the smallest subnormal is a tie between 0 and 2^-9: goes to 0 (even).
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 2 ** -10)).toBe(0x00);
  });

  it('e4m3fnuz: max 240, no negative zero, NaN 0x80', () => {
    expect(minifloatMax(DataType.FLOAT8E4M3FNUZ)).toBe(240);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FNUZ, -0)).toBe(0x00);
    expect(Number.isNaN(decodeMinifloat(DataType.FLOAT8E4M3FNUZ, 0x80))).toBe(true);
  });

  it('e5m2: max 57344, infinities exist but saturate by default', () => {
    expect(minifloatMax(DataType.FLOAT8E5M2)).toBe(57344);
    expect(decodeMinifloat(DataType.FLOAT8E5M2, 0x7c)).toBe(Infinity);
    expect(encodeMinifloat(DataType.FLOAT8E5M2, 1e9)).toBe(0x7b);
    expect(encodeMinifloat(DataType.FLOAT8E5M2, 1e9, false)).toBe(0x7c);
    expect(minifloatMax(DataType.FLOAT8E5M2FNUZ)).toBe(57344);
  });

  it('float4e2m1 rounds as compressed-tensors cast_to_fp4 (ties to even)', () => {
    const q = (x: number): number => decodeMinifloat(DataType.FLOAT4E2M1, encodeMinifloat(DataType.FLOAT4E2M1, x));
    expect([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 7].map(q)).toEqual([0, 1, 1, 2, 2, 4, 4, 6]);
    expect(q(-2.6)).toBe(-3);
  });

  it('every code decodes and re-encodes to itself (all four float8 types)', () => {
    for (const t of [DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2, DataType.FLOAT8E5M2FNUZ]) {
      for (let c = 0; c < 256; c++) {
        const v = decodeMinifloat(t, c);
        if (Number.isNaN(v) || !Number.isFinite(v)) continue;
        expect(encodeMinifloat(t, v)).toBe(c);
      }
    }
  });
});

describe('16-bit floats', () => {
  it('float16 known bit patterns', () => {
    expect(encodeFloat16(1)).toBe(0x3c00);
    expect(encodeFloat16(-2)).toBe(0xc000);
    expect(encodeFloat16(65504)).toBe(0x7bff);
    expect(encodeFloat16(1e6)).toBe(0x7c00);
    expect(encodeFloat16(2 ** -24)).toBe(0x0001);
    expect(decodeFloat16(0x3555)).toBeCloseTo(0.333251953125, 12);
  });
  it('bfloat16 rounds to nearest even: 23/7.5 is stored as 3.0625 (compressed-tensors test 7.2)', () => {
    expect(decodeBFloat16(encodeBFloat16(23 / 7.5))).toBe(3.0625);
    expect(decodeBFloat16(encodeBFloat16(11 / 7.5))).toBe(1.46875);
  });
  it('float16 round trip is exact for every float16 value', () => {
    for (let h = 0; h < 0x7c00; h += 7) expect(encodeFloat16(decodeFloat16(h))).toBe(h);
  });
});

describe('integers and sub-byte packing', () => {
  it('round half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, -3]);
  });
  it('int4 packs two per byte, low nibble first, and saturates', () => {
    const raw = encodeFromFloat32(DataType.INT4, [1, -1, 7.6, -9, 3]);
    expect([...raw]).toEqual([0xf1, 0x87, 0x03]);
    expect([...decodeToFloat32(DataType.INT4, raw, 5)]).toEqual([1, -1, 7, -8, 3]);
    expect([...packSubByte([0, 1, 2, 3, 3], 2)]).toEqual([0b11100100, 0b11]);
    expect([...unpackSubByte(Uint8Array.of(0b11100100), 4, 2, true)]).toEqual([0, 1, -2, -1]);
  });
  it('encode/decode round-trips random values of every numeric type', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -8, max: 7 }), { maxLength: 33 }), (xs) => {
        for (const t of [DataType.INT4, DataType.INT8, DataType.INT16, DataType.INT32, DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16, DataType.FLOAT8E4M3FN]) {
          expect([...decodeToFloat32(t, encodeFromFloat32(t, xs), xs.length)]).toEqual(xs.map((x) => x + 0));
        }
      }),
    );
  });
});
