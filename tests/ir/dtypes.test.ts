import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DataType,
  dataTypeInfo,
  decodeBFloat16,
  decodeE8M0,
  decodeFloat16,
  decodeMinifloat,
  decodeToFloat32,
  encodeBFloat16,
  encodeFloat16,
  encodeFromFloat32,
  encodeMinifloat,
  isKnownDataType,
  minifloatMax,
  packSubByte,
  rawByteLength,
  roundHalfEven,
  unpackSubByte,
} from '../../src/ir/dtypes.js';

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
  it('encode/decode round-trips every numeric type over its whole range: extremes, NaN, ±Inf, −0, subnormals', () => {
    // Per type, values the type holds exactly (and float32 too, since decoding yields float32):
    // integers over the full range, and every float format's values drawn from its own codes.
    const intsOf = (lo: number, hi: number) => fc.oneof(fc.constantFrom(lo, hi, 0, lo + 1, hi - 1), fc.integer({ min: lo, max: hi }));
    const f32 = (x: number): number => Math.fround(x);
    const float32s = fc.oneof(
      fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 3.4028234663852886e38, -3.4028234663852886e38, 2 ** -149, -(2 ** -149), 2 ** -126 - 2 ** -149, 2 ** -126),
      fc.float(),
    );
    // Minifloat infinities are left out: encoding saturates them to ±max, as Cast and
    // QuantizeLinear with saturate=1 do (checked below).
    const codes = (n: number, decode: (c: number) => number) =>
      fc.integer({ min: 0, max: n - 1 }).map(decode).filter((x) => n === 0x10000 || !Number.isFinite(x) === Number.isNaN(x));
    const cases: [DataType, fc.Arbitrary<number>][] = [
      [DataType.INT2, intsOf(-2, 1)],
      [DataType.UINT2, intsOf(0, 3)],
      [DataType.INT4, intsOf(-8, 7)],
      [DataType.UINT4, intsOf(0, 15)],
      [DataType.INT8, intsOf(-128, 127)],
      [DataType.UINT8, intsOf(0, 255)],
      [DataType.INT16, intsOf(-32768, 32767)],
      [DataType.UINT16, intsOf(0, 65535)],
      [DataType.INT32, intsOf(-(2 ** 31), 2 ** 31 - 1).map(f32).filter((x) => x <= 2 ** 31 - 1)],
      [DataType.UINT32, intsOf(0, 2 ** 32 - 1).map(f32).filter((x) => x <= 2 ** 32 - 1)],
      // int64/uint64: float32 values that are integers, up to the types' limits
      [DataType.INT64, fc.oneof(fc.constantFrom(-(2 ** 63), 2 ** 62, -1, 0), intsOf(-(2 ** 31), 2 ** 31).map((x) => f32(x * 2 ** 31)))],
      [DataType.UINT64, fc.oneof(fc.constantFrom(0, 2 ** 63, 1), intsOf(0, 2 ** 32).map((x) => f32(x * 2 ** 31)))],
      [DataType.BOOL, fc.constantFrom(0, 1)],
      [DataType.FLOAT, float32s],
      [DataType.DOUBLE, float32s],
      [DataType.FLOAT16, codes(0x10000, decodeFloat16)],
      [DataType.BFLOAT16, codes(0x10000, decodeBFloat16)],
      [DataType.FLOAT8E4M3FN, codes(256, (c) => decodeMinifloat(DataType.FLOAT8E4M3FN, c))],
      [DataType.FLOAT8E4M3FNUZ, codes(256, (c) => decodeMinifloat(DataType.FLOAT8E4M3FNUZ, c))],
      [DataType.FLOAT8E5M2, codes(256, (c) => decodeMinifloat(DataType.FLOAT8E5M2, c))],
      [DataType.FLOAT8E5M2FNUZ, codes(256, (c) => decodeMinifloat(DataType.FLOAT8E5M2FNUZ, c))],
      [DataType.FLOAT4E2M1, codes(16, (c) => decodeMinifloat(DataType.FLOAT4E2M1, c))],
      [DataType.FLOAT8E8M0, codes(256, decodeE8M0)],
    ];
    const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
    for (const [t, values] of cases) {
      fc.assert(
        fc.property(fc.array(values, { maxLength: 33 }), (xs) => {
          const got = decodeToFloat32(t, encodeFromFloat32(t, xs), xs.length);
          expect(got.length).toBe(xs.length);
          xs.forEach((x, i) => expect(same(got[i]!, x), `${dataTypeInfo(t).name}: ${x} came back as ${got[i]}`).toBe(true));
        }),
        { numRuns: 200 },
      );
    }
    // the extremes themselves, by name
    expect([...decodeToFloat32(DataType.INT8, encodeFromFloat32(DataType.INT8, [-128, 127, -129, 128]), 4)]).toEqual([-128, 127, -128, 127]);
    expect([...decodeToFloat32(DataType.UINT16, encodeFromFloat32(DataType.UINT16, [0, 65535, -1, 65536]), 4)]).toEqual([0, 65535, 0, 65535]);
    expect([...decodeToFloat32(DataType.INT32, encodeFromFloat32(DataType.INT32, [-(2 ** 31), 2 ** 31 - 1]), 2)]).toEqual([-(2 ** 31), f32(2 ** 31 - 1)]);
    expect([...decodeToFloat32(DataType.FLOAT16, encodeFromFloat32(DataType.FLOAT16, [65504, -65504, 2 ** -24, 2 ** -14, -0, Infinity]), 6)]).toEqual([65504, -65504, 2 ** -24, 2 ** -14, -0, Infinity]);
    expect(Object.is(decodeToFloat32(DataType.FLOAT, encodeFromFloat32(DataType.FLOAT, [-0]), 1)[0], -0)).toBe(true);
    // ONNX Cast (saturate=1): ±Inf becomes ±FLT_MAX for E4M3FN and E5M2
    expect([...decodeToFloat32(DataType.FLOAT8E5M2, encodeFromFloat32(DataType.FLOAT8E5M2, [Infinity, -Infinity]), 2)]).toEqual([57344, -57344]);
    expect([...decodeToFloat32(DataType.FLOAT8E4M3FN, encodeFromFloat32(DataType.FLOAT8E4M3FN, [Infinity, -Infinity]), 2)]).toEqual([448, -448]);
  });
});

describe('codec edges, each value hand-computed from IEEE 754 and the ONNX Cast / float8 spec', () => {
  it('known and unknown type numbers; sizes of packed types', () => {
    expect([-1, 0, 1.5, 26, 27].map(isKnownDataType)).toEqual([false, true, false, true, false]);
    expect([rawByteLength(DataType.FLOAT4E2M1, 3), rawByteLength(DataType.INT2, 5), rawByteLength(DataType.FLOAT, 3), rawByteLength(DataType.STRING, 3)]).toEqual([2, 2, 12, 0]);
    expect(() => minifloatMax(DataType.FLOAT)).toThrow(/^float is not a minifloat$/);
    expect(() => decodeToFloat32(DataType.COMPLEX64, new Uint8Array(8), 1)).toThrow(/^complex64 has no float32 codec$/);
    expect(() => encodeFromFloat32(DataType.STRING, [1])).toThrow(/^string has no float32 codec$/);
  });
  it('float8 without saturation (Cast saturate=0): past the largest finite value, NaN for FN/FNUZ, ±Inf for E5M2', () => {
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 1000, false)).toBe(0x7f);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, -1000, false)).toBe(0xff);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 448, false)).toBe(0x7e); // the largest itself is kept
    expect(encodeMinifloat(DataType.FLOAT8E4M3FNUZ, 1000, false)).toBe(0x80);
    expect(encodeMinifloat(DataType.FLOAT8E5M2, -1e9, false)).toBe(0xfc);
    expect(encodeMinifloat(DataType.FLOAT8E5M2FNUZ, 1e9, false)).toBe(0x80);
    // float4e2m1 has neither: it saturates at 6 (code 0x7) either way
    expect([encodeMinifloat(DataType.FLOAT4E2M1, 100, false), encodeMinifloat(DataType.FLOAT4E2M1, -100)]).toEqual([0x7, 0xf]);
    // nor a NaN: ctc stores NaN as the largest value, 6 (ONNX's reference Cast stores -0; see dtypes-onnx-cast.test.ts)
    expect([encodeMinifloat(DataType.FLOAT4E2M1, NaN), encodeMinifloat(DataType.FLOAT4E2M1, NaN, false)]).toEqual([0x7, 0x7]);
    expect([...encodeFromFloat32(DataType.FLOAT4E2M1, [NaN, -1])]).toEqual([0xa7]);
  });
  it('float8 NaN codes: e4m3fn 0x7f, the FNUZ types 0x80; every other format decodes its NaN as NaN', () => {
    expect(encodeMinifloat(DataType.FLOAT8E4M3FNUZ, NaN)).toBe(0x80);
    expect(encodeMinifloat(DataType.FLOAT8E5M2FNUZ, NaN)).toBe(0x80);
    expect(Number.isNaN(decodeMinifloat(DataType.FLOAT8E5M2, encodeMinifloat(DataType.FLOAT8E5M2, NaN)))).toBe(true);
    expect(Number.isNaN(decodeMinifloat(DataType.FLOAT8E4M3FN, 0xff))).toBe(true);
    expect(decodeMinifloat(DataType.FLOAT8E4M3FN, 0x7e)).toBe(448);
    expect(decodeMinifloat(DataType.FLOAT8E5M2, 0xfc)).toBe(-Infinity);
    expect(Number.isNaN(decodeMinifloat(DataType.FLOAT8E5M2, 0x7d))).toBe(true);
    // FNUZ: 0x80 is NaN, not -0; the e5m2fnuz smallest subnormal is 2^-17, e4m3fnuz's 2^-10
    expect(decodeMinifloat(DataType.FLOAT8E5M2FNUZ, 0x01)).toBe(2 ** -17);
    expect(decodeMinifloat(DataType.FLOAT8E4M3FNUZ, 0x01)).toBe(2 ** -10);
    expect(decodeMinifloat(DataType.FLOAT8E4M3FNUZ, 0xff)).toBe(-240);
  });
  it('float8 rounding near zero and between the grid points, both signs', () => {
    // e4m3fn: the smallest subnormal 2^-9; 0.75·2^-9 rounds up to it, 0.25·2^-9 down to +0 / -0
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 0.75 * 2 ** -9)).toBe(0x01);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, 0.25 * 2 ** -9)).toBe(0x00);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FN, -0.25 * 2 ** -9)).toBe(0x80);
    expect(encodeMinifloat(DataType.FLOAT8E4M3FNUZ, -0.25 * 2 ** -10)).toBe(0x00); // no -0 in FNUZ
    // 1.1 is nearer 1.125 (0x39) than 1 (0x38); 1.05 nearer 1
    expect([encodeMinifloat(DataType.FLOAT8E4M3FN, 1.1), encodeMinifloat(DataType.FLOAT8E4M3FN, 1.05), encodeMinifloat(DataType.FLOAT8E4M3FN, -1.1)]).toEqual([0x39, 0x38, 0xb9]);
    // e5m2: 1.125 is halfway between 1 (0x3c, even) and 1.25 (0x3d): 0x3c; 1.375 between 0x3d and 0x3e: 0x3e
    expect([encodeMinifloat(DataType.FLOAT8E5M2, 1.125), encodeMinifloat(DataType.FLOAT8E5M2, 1.375)]).toEqual([0x3c, 0x3e]);
  });
  it('float16: rounding carries into the exponent, halfway cases to even, the overflow threshold 65520, subnormals', () => {
    expect(encodeFloat16(2047.9)).toBe(0x6800); // rounds up to 2048 = 2^11
    expect(encodeFloat16(32767)).toBe(0x7800); // rounds up to 32768 = 2^15, the largest exponent: still finite
    expect(encodeFloat16(-32767)).toBe(0xf800);
    expect([encodeFloat16(Infinity), encodeFloat16(-Infinity), encodeFloat16(1e6), encodeFloat16(0)]).toEqual([0x7c00, 0xfc00, 0x7c00, 0x0000]);
    expect(encodeFloat16(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and 1 + 2^-10: even
    expect(encodeFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway between 0x3c01 and 0x3c02: even
    expect(encodeFloat16(65519)).toBe(0x7bff);
    expect(encodeFloat16(65520)).toBe(0x7c00);
    expect(encodeFloat16(-65520)).toBe(0xfc00);
    expect(encodeFloat16(2 ** -25)).toBe(0x0000); // half the smallest subnormal: even (zero)
    expect(encodeFloat16(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: even (2)
    expect(encodeFloat16(-(2 ** -24))).toBe(0x8001);
    expect(encodeFloat16(2 ** -14)).toBe(0x0400); // the smallest normal
    expect(encodeFloat16(2 ** -14 - 2 ** -24)).toBe(0x03ff); // the largest subnormal
    expect(encodeFloat16(-0)).toBe(0x8000);
    expect(encodeFloat16(NaN)).toBe(0x7e00);
    expect([decodeFloat16(0x7c00), decodeFloat16(0xfc00), decodeFloat16(0x8001), decodeFloat16(0x0400), decodeFloat16(0x7bff)]).toEqual([Infinity, -Infinity, -(2 ** -24), 2 ** -14, 65504]);
    expect(Number.isNaN(decodeFloat16(0x7e00))).toBe(true);
    expect(Object.is(decodeFloat16(0x8000), -0)).toBe(true);
  });
  it('bfloat16: the top 16 bits of float32, rounded to nearest even; NaN 0x7fc0', () => {
    expect(encodeBFloat16(1)).toBe(0x3f80);
    expect(encodeBFloat16(1 + 2 ** -8)).toBe(0x3f80); // halfway, to even
    expect(encodeBFloat16(1 + 3 * 2 ** -8)).toBe(0x3f82); // halfway between 0x3f81 and 0x3f82
    expect(encodeBFloat16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // past halfway
    expect(encodeBFloat16(-2)).toBe(0xc000);
    expect(encodeBFloat16(NaN)).toBe(0x7fc0);
    expect([decodeBFloat16(0x3f80), decodeBFloat16(0xc000), decodeBFloat16(0x7f80), decodeBFloat16(0x13f80)]).toEqual([1, -2, Infinity, 1]);
  });
  it('float8e8m0 (a power of two, 2^(code - 127)): encoding rounds up, saturates at 2^127, 0 is code 0 (as ONNX Cast), NaN for the rest', () => {
    expect([...encodeFromFloat32(DataType.FLOAT8E8M0, [1, 3, 4, 0.3, 2 ** -127, 2 ** -140, 2 ** 127, 1e39, 0, -0, -1, NaN, Infinity])]).toEqual([127, 129, 129, 126, 0, 0, 254, 254, 0, 0, 0xff, 0xff, 0xff]);
    expect([decodeE8M0(0), decodeE8M0(127), decodeE8M0(254)]).toEqual([2 ** -127, 1, 2 ** 127]);
    expect(Number.isNaN(decodeE8M0(0xff))).toBe(true);
  });
  it('integers: round half to even then saturate; 64-bit integers round and clamp at 0 when unsigned; bool is nonzero', () => {
    expect([...decodeToFloat32(DataType.UINT8, encodeFromFloat32(DataType.UINT8, [0.5, 1.5, 254.5, 255.5, -3]), 5)]).toEqual([0, 2, 254, 255, 0]);
    expect([...decodeToFloat32(DataType.INT16, encodeFromFloat32(DataType.INT16, [-2.5, 40000, -40000]), 3)]).toEqual([-2, 32767, -32768]);
    expect([...encodeFromFloat32(DataType.UINT32, [-1, 4294967296, 3.5])]).toEqual([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 0, 0]);
    expect([...decodeToFloat32(DataType.UINT64, encodeFromFloat32(DataType.UINT64, [-5, 7.4]), 2)]).toEqual([0, 7]);
    expect([...decodeToFloat32(DataType.INT64, encodeFromFloat32(DataType.INT64, [-5.6, 7.4]), 2)]).toEqual([-6, 7]);
    expect([...encodeFromFloat32(DataType.BOOL, [0, -0, 2, -0.5])]).toEqual([0, 0, 1, 1]);
    expect([...decodeToFloat32(DataType.BOOL, Uint8Array.of(0, 1), 2)]).toEqual([0, 1]);
    // little-endian bytes
    expect([...encodeFromFloat32(DataType.INT16, [-2])]).toEqual([0xfe, 0xff]);
    expect([...encodeFromFloat32(DataType.UINT32, [0x01020304])]).toEqual([4, 3, 2, 1]);
    expect([...encodeFromFloat32(DataType.FLOAT16, [1])]).toEqual([0x00, 0x3c]);
    expect([...encodeFromFloat32(DataType.BFLOAT16, [1])]).toEqual([0x80, 0x3f]);
  });
  it('sub-byte: unsigned nibbles, signed and unsigned 2-bit values, float4 codes packed low first', () => {
    expect([...unpackSubByte(Uint8Array.of(0xf1, 0x8), 3, 4, false)]).toEqual([1, 15, 8]);
    expect([...unpackSubByte(Uint8Array.of(0xf1, 0x8), 3, 4, true)]).toEqual([1, -1, -8]);
    expect([...unpackSubByte(Uint8Array.of(0b11100100), 4, 2, false)]).toEqual([0, 1, 2, 3]);
    // saturated and rounded half to even: 3, 4 → 3, -1 → 0, 1.5 → 2; -2, 1, 5 → 1, -0.5 → 0
    expect([...encodeFromFloat32(DataType.UINT2, [3, 4, -1, 1.5])]).toEqual([0b10_00_11_11]);
    expect([...encodeFromFloat32(DataType.INT2, [-2, 1, 5, -0.5])]).toEqual([0b00_01_01_10]);
    // float4e2m1: 1 is code 0x2, -6 is 0xf, 0.5 is 0x1
    expect([...encodeFromFloat32(DataType.FLOAT4E2M1, [1, -6, 0.5])]).toEqual([0xf2, 0x01]);
    expect([...decodeToFloat32(DataType.FLOAT4E2M1, Uint8Array.of(0xf2, 0x01), 3)]).toEqual([1, -6, 0.5]);
  });
});
