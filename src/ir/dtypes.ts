/**
 * Every ONNX tensor element type (TensorProto.DataType), with its storage size and, for the
 * numeric ones, codecs between its stored form and float32.
 *
 * The minifloat codecs are table-driven: every code of an 8-bit (or 4-bit) format is decoded once
 * into a sorted table of finite values; encoding is a binary search for the nearest value with
 * ties going to the even code, which is exactly round-to-nearest-even, and values beyond the
 * largest finite one saturate as QuantizeLinear (saturate=1) and Cast do.
 */

/** TensorProto.DataType numbers (onnx.proto, IR 13). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export interface DataTypeInfo {
  readonly id: DataType;
  /** The name ONNX uses in `tensor(<name>)`. */
  readonly name: string;
  /** Bits per element in raw_data (4-bit types pack two per byte, 2-bit types four). */
  readonly bits: number;
  /** The IR version that introduced the type. */
  readonly minIrVersion: number;
  /** The opset in which QuantizeLinear/DequantizeLinear first accept it (undefined: never). */
  readonly minQdqOpset?: number;
  /** For integer types: the representable range. */
  readonly intRange?: readonly [number, number];
}

const table: readonly DataTypeInfo[] = [
  { id: DataType.UNDEFINED, name: 'undefined', bits: 0, minIrVersion: 1 },
  { id: DataType.FLOAT, name: 'float', bits: 32, minIrVersion: 1 },
  { id: DataType.UINT8, name: 'uint8', bits: 8, minIrVersion: 1, minQdqOpset: 10, intRange: [0, 255] },
  { id: DataType.INT8, name: 'int8', bits: 8, minIrVersion: 1, minQdqOpset: 10, intRange: [-128, 127] },
  { id: DataType.UINT16, name: 'uint16', bits: 16, minIrVersion: 1, minQdqOpset: 21, intRange: [0, 65535] },
  { id: DataType.INT16, name: 'int16', bits: 16, minIrVersion: 1, minQdqOpset: 21, intRange: [-32768, 32767] },
  { id: DataType.INT32, name: 'int32', bits: 32, minIrVersion: 1, intRange: [-2147483648, 2147483647] },
  { id: DataType.INT64, name: 'int64', bits: 64, minIrVersion: 1 },
  { id: DataType.STRING, name: 'string', bits: 0, minIrVersion: 1 },
  { id: DataType.BOOL, name: 'bool', bits: 8, minIrVersion: 1 },
  { id: DataType.FLOAT16, name: 'float16', bits: 16, minIrVersion: 1 },
  { id: DataType.DOUBLE, name: 'double', bits: 64, minIrVersion: 1 },
  { id: DataType.UINT32, name: 'uint32', bits: 32, minIrVersion: 1, intRange: [0, 4294967295] },
  { id: DataType.UINT64, name: 'uint64', bits: 64, minIrVersion: 1 },
  { id: DataType.COMPLEX64, name: 'complex64', bits: 64, minIrVersion: 1 },
  { id: DataType.COMPLEX128, name: 'complex128', bits: 128, minIrVersion: 1 },
  { id: DataType.BFLOAT16, name: 'bfloat16', bits: 16, minIrVersion: 4 },
  { id: DataType.FLOAT8E4M3FN, name: 'float8e4m3fn', bits: 8, minIrVersion: 9, minQdqOpset: 19 },
  { id: DataType.FLOAT8E4M3FNUZ, name: 'float8e4m3fnuz', bits: 8, minIrVersion: 9, minQdqOpset: 19 },
  { id: DataType.FLOAT8E5M2, name: 'float8e5m2', bits: 8, minIrVersion: 9, minQdqOpset: 19 },
  { id: DataType.FLOAT8E5M2FNUZ, name: 'float8e5m2fnuz', bits: 8, minIrVersion: 9, minQdqOpset: 19 },
  { id: DataType.UINT4, name: 'uint4', bits: 4, minIrVersion: 10, minQdqOpset: 21, intRange: [0, 15] },
  { id: DataType.INT4, name: 'int4', bits: 4, minIrVersion: 10, minQdqOpset: 21, intRange: [-8, 7] },
  { id: DataType.FLOAT4E2M1, name: 'float4e2m1', bits: 4, minIrVersion: 11, minQdqOpset: 23 },
  { id: DataType.FLOAT8E8M0, name: 'float8e8m0', bits: 8, minIrVersion: 12 },
  { id: DataType.UINT2, name: 'uint2', bits: 2, minIrVersion: 13, minQdqOpset: 25, intRange: [0, 3] },
  { id: DataType.INT2, name: 'int2', bits: 2, minIrVersion: 13, minQdqOpset: 25, intRange: [-2, 1] },
];

export function dataTypeInfo(id: number): DataTypeInfo {
  const info = table[id];
  if (info === undefined) throw new RangeError(`unknown ONNX data type ${id}`);
  return info;
}

export function isKnownDataType(id: number): id is DataType {
  return Number.isInteger(id) && id >= 0 && id < table.length;
}

/** Bytes that `count` elements take in raw_data (sub-byte types packed, rounded up). */
export function rawByteLength(id: DataType, count: number): number {
  const { bits } = dataTypeInfo(id);
  return Math.ceil((count * bits) / 8);
}

// ---------------------------------------------------------------------------------------------
// Minifloats: float8 ×4, float4e2m1 and float8e8m0, described by their bit layout.

interface MinifloatFormat {
  readonly bits: number;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  /** FN: no infinities, only the all-ones code is NaN. FNUZ: no -0, NaN is 0x80. IEEE: inf and NaNs. */
  readonly kind: 'ieee' | 'fn' | 'fnuz' | 'no-nan';
}

const formats: Partial<Record<DataType, MinifloatFormat>> = {
  [DataType.FLOAT8E4M3FN]: { bits: 8, exponentBits: 4, mantissaBits: 3, bias: 7, kind: 'fn' },
  [DataType.FLOAT8E4M3FNUZ]: { bits: 8, exponentBits: 4, mantissaBits: 3, bias: 8, kind: 'fnuz' },
  [DataType.FLOAT8E5M2]: { bits: 8, exponentBits: 5, mantissaBits: 2, bias: 15, kind: 'ieee' },
  [DataType.FLOAT8E5M2FNUZ]: { bits: 8, exponentBits: 5, mantissaBits: 2, bias: 16, kind: 'fnuz' },
  [DataType.FLOAT4E2M1]: { bits: 4, exponentBits: 2, mantissaBits: 1, bias: 1, kind: 'no-nan' },
};

function decodeMinifloatCode(f: MinifloatFormat, code: number): number {
  const signBit = 1 << (f.bits - 1);
  const expMask = (1 << f.exponentBits) - 1;
  const manMask = (1 << f.mantissaBits) - 1;
  const sign = code & signBit ? -1 : 1;
  const e = (code >> f.mantissaBits) & expMask;
  const m = code & manMask;
  if (f.kind === 'fnuz' && code === signBit) return NaN;
  if (f.kind === 'fn' && e === expMask && m === manMask) return NaN;
  if (f.kind === 'ieee' && e === expMask) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** (1 - f.bias - f.mantissaBits);
  return sign * (1 + m / (1 << f.mantissaBits)) * 2 ** (e - f.bias);
}

interface MinifloatCodec {
  readonly decode: Float32Array; // code -> value
  readonly positives: Float64Array; // finite non-negative values, ascending
  readonly positiveCodes: Uint8Array;
  readonly signBit: number;
  readonly nanCode: number;
  readonly format: MinifloatFormat;
}

function buildCodec(f: MinifloatFormat): MinifloatCodec {
  const n = 1 << f.bits;
  const signBit = 1 << (f.bits - 1);
  const decode = new Float32Array(n);
  const pos: { v: number; c: number }[] = [];
  for (let c = 0; c < n; c++) {
    const v = decodeMinifloatCode(f, c);
    decode[c] = v;
    if (c < signBit && Number.isFinite(v)) pos.push({ v, c });
  }
  pos.sort((a, b) => a.v - b.v);
  return {
    decode,
    positives: Float64Array.from(pos.map((p) => p.v)),
    positiveCodes: Uint8Array.from(pos.map((p) => p.c)),
    signBit,
    nanCode: nanCodeOf(f),
    format: f,
  };
}

/**
 * The NaN code ONNX's Cast writes (its backend tests store these): FNUZ 0x80 (the code -0 would
 * have), FN the all-ones 0x7f, IEEE the quiet NaN 0x7e (exponent all ones, top mantissa bit set).
 * float4e2m1 has no NaN.
 */
function nanCodeOf(f: MinifloatFormat): number {
  const infinity = ((1 << f.exponentBits) - 1) << f.mantissaBits;
  switch (f.kind) {
    case 'fnuz':
      return 1 << (f.bits - 1);
    case 'fn':
      return (1 << (f.bits - 1)) - 1;
    case 'ieee':
      return infinity | (1 << (f.mantissaBits - 1));
    case 'no-nan':
      return -1;
  }
}

/** The five minifloat codecs, built once when the module loads (5 × at most 256 codes) and never changed. */
const CODECS: ReadonlyMap<DataType, MinifloatCodec> = new Map(
  (Object.entries(formats) as [string, MinifloatFormat][]).map(([id, f]) => [Number(id) as DataType, buildCodec(f)]),
);

function minifloat(id: DataType): MinifloatCodec {
  const c = CODECS.get(id);
  if (c === undefined) throw new RangeError(`${dataTypeInfo(id).name} is not a minifloat`);
  return c;
}

/** Largest finite value of a float type (448 for float8e4m3fn). */
export function minifloatMax(id: DataType): number {
  const p = minifloat(id).positives;
  return p[p.length - 1]!;
}

/**
 * Encode one float to a minifloat code: round to nearest, ties to even code, saturating (as
 * QuantizeLinear with saturate=1 and Cast do) or, with saturate=false, overflowing to inf/NaN.
 */
export function encodeMinifloat(id: DataType, x: number, saturate = true): number {
  const c = minifloat(id);
  if (Number.isNaN(x)) return c.format.kind === 'no-nan' ? c.positiveCodes[c.positiveCodes.length - 1]! : c.nanCode;
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  const p = c.positives;
  const top = p[p.length - 1]!;
  let code: number;
  if (a > top) {
    if (saturate || c.format.kind === 'no-nan') code = c.positiveCodes[p.length - 1]!;
    else if (c.format.kind === 'ieee') code = ((1 << c.format.exponentBits) - 1) << c.format.mantissaBits; // +infinity
    else code = c.nanCode;
  } else {
    // binary search: first index with p[i] >= a
    let lo = 0;
    let hi = p.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid]! < a) lo = mid + 1;
      else hi = mid;
    }
    if (p[lo] === a || lo === 0) code = c.positiveCodes[lo]!;
    else {
      const below = p[lo - 1]!;
      const above = p[lo]!;
      const dBelow = a - below;
      const dAbove = above - a;
      if (dBelow < dAbove) code = c.positiveCodes[lo - 1]!;
      else if (dAbove < dBelow) code = c.positiveCodes[lo]!;
      else code = c.positiveCodes[lo - 1]! % 2 === 0 ? c.positiveCodes[lo - 1]! : c.positiveCodes[lo]!;
    }
  }
  if (negative) {
    const isZero = c.decode[code] === 0;
    if (isZero && c.format.kind === 'fnuz') return code; // no negative zero
    code |= c.signBit;
  }
  return code;
}

export function decodeMinifloat(id: DataType, code: number): number {
  return minifloat(id).decode[code]!;
}

/**
 * float8e8m0: a power of two 2^(code-127); 0xff is NaN. Encoding rounds up (the spec default),
 * and stores 0 as the smallest code 0x00, as ONNX's Cast does (the exponent bits of 0 are 0).
 */
export function decodeE8M0(code: number): number {
  return code === 0xff ? NaN : 2 ** (code - 127);
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round a double to the nearest float32. */
export const toFloat32 = Math.fround;

export function encodeBFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if (Number.isNaN(x)) return 0x7fc0;
  const rounding = 0x7fff + ((bits >> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}

export function decodeBFloat16(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function decodeFloat16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function encodeFloat16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(Math.fround(x));
  // -Infinity for 0, Infinity for Infinity; the guard corrects a log2 rounded up to the next integer.
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  // subnormal (and zero): units of 2^-24, round half to even (just below 2^-14 it may reach 0x0400)
  if (e < -14) return sign | roundHalfEven(a / 2 ** -24);
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    // the rounding carried into the exponent
    m = 0;
    e += 1;
  }
  // past 65504 once rounded (from 65520 up, and Infinity): infinity
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; correct the ties that land on an odd number.
  if (Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Sub-byte packing (int4/uint4/float4: two per byte, low nibble first; int2/uint2: four per byte).

export function unpackSubByte(bytes: Uint8Array, count: number, bits: 2 | 4, signed: boolean): Int8Array {
  const out = new Int8Array(count);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < count; i++) {
    const byte = bytes[Math.floor(i / perByte)]!;
    let v = (byte >> ((i % perByte) * bits)) & mask;
    if (signed && v & (1 << (bits - 1))) v -= 1 << bits;
    out[i] = v;
  }
  return out;
}

export function packSubByte(values: ArrayLike<number>, bits: 2 | 4): Uint8Array {
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(values.length / perByte));
  for (let i = 0; i < values.length; i++) {
    out[Math.floor(i / perByte)]! |= (values[i]! & mask) << ((i % perByte) * bits);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// raw_data <-> float32 for every numeric type.

/** Decode `count` elements of raw (little-endian) storage into float32 values. */
export function decodeToFloat32(id: DataType, raw: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (id) {
    case DataType.FLOAT:
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case DataType.DOUBLE:
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case DataType.FLOAT16:
      for (let i = 0; i < count; i++) out[i] = decodeFloat16(dv.getUint16(i * 2, true));
      return out;
    case DataType.BFLOAT16:
      for (let i = 0; i < count; i++) out[i] = decodeBFloat16(dv.getUint16(i * 2, true));
      return out;
    case DataType.INT8:
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    case DataType.UINT8:
    case DataType.BOOL:
      for (let i = 0; i < count; i++) out[i] = dv.getUint8(i);
      return out;
    case DataType.INT16:
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    case DataType.UINT16:
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    case DataType.INT32:
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    case DataType.UINT32:
      for (let i = 0; i < count; i++) out[i] = dv.getUint32(i * 4, true);
      return out;
    case DataType.INT64:
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    case DataType.UINT64:
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      return out;
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ: {
      const table = minifloat(id).decode;
      for (let i = 0; i < count; i++) out[i] = table[raw[i]!]!;
      return out;
    }
    case DataType.FLOAT8E8M0:
      for (let i = 0; i < count; i++) out[i] = decodeE8M0(raw[i]!);
      return out;
    case DataType.FLOAT4E2M1: {
      const table = minifloat(id).decode;
      const codes = unpackSubByte(raw, count, 4, false);
      for (let i = 0; i < count; i++) out[i] = table[codes[i]!]!;
      return out;
    }
    case DataType.INT4:
    case DataType.UINT4:
      out.set(unpackSubByte(raw, count, 4, id === DataType.INT4));
      return out;
    case DataType.INT2:
    case DataType.UINT2:
      out.set(unpackSubByte(raw, count, 2, id === DataType.INT2));
      return out;
    case DataType.UNDEFINED:
    case DataType.STRING:
    case DataType.COMPLEX64:
    case DataType.COMPLEX128:
      throw new RangeError(`${dataTypeInfo(id).name} has no float32 codec`);
  }
}

/**
 * Encode float32 values into raw storage of type `id`. Integer types round half to even and
 * saturate (as QuantizeLinear does); minifloats round to nearest even and saturate.
 */
export function encodeFromFloat32(id: DataType, values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  const info = dataTypeInfo(id);
  const saturateInt = (v: number): number => {
    const [lo, hi] = info.intRange!;
    return Math.min(hi, Math.max(lo, roundHalfEven(v)));
  };
  switch (id) {
    case DataType.FLOAT: {
      const out = new Uint8Array(n * 4);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i]!, true);
      return out;
    }
    case DataType.DOUBLE: {
      const out = new Uint8Array(n * 8);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i]!, true);
      return out;
    }
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      const out = new Uint8Array(n * 2);
      const dv = new DataView(out.buffer);
      const enc = id === DataType.FLOAT16 ? encodeFloat16 : encodeBFloat16;
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, enc(values[i]!), true);
      return out;
    }
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.INT16:
    case DataType.UINT16:
    case DataType.INT32:
    case DataType.UINT32: {
      const bytes = info.bits / 8;
      const out = new Uint8Array(n * bytes);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) {
        const v = saturateInt(values[i]!);
        if (bytes === 1) dv.setUint8(i, v & 0xff);
        else if (bytes === 2) dv.setUint16(i * 2, v & 0xffff, true);
        else dv.setUint32(i * 4, v >>> 0, true);
      }
      return out;
    }
    case DataType.INT64: {
      const out = new Uint8Array(n * 8);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, BigInt(Math.round(values[i]!)), true);
      return out;
    }
    case DataType.UINT64: {
      const out = new Uint8Array(n * 8);
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setBigUint64(i * 8, BigInt(Math.max(0, Math.round(values[i]!))), true);
      return out;
    }
    case DataType.BOOL: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = encodeMinifloat(id, values[i]!);
      return out;
    }
    case DataType.FLOAT4E2M1: {
      const codes = new Array<number>(n);
      for (let i = 0; i < n; i++) codes[i] = encodeMinifloat(id, values[i]!);
      return packSubByte(codes, 4);
    }
    case DataType.FLOAT8E8M0: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        // ±0: log2 is -Infinity, clamped to code 0x00 as ONNX's Cast stores it
        out[i] = !(v >= 0) || !Number.isFinite(v) ? 0xff : Math.min(254, Math.max(0, Math.ceil(Math.log2(v)) + 127));
      }
      return out;
    }
    case DataType.INT4:
    case DataType.UINT4:
    case DataType.INT2:
    case DataType.UINT2: {
      const ints = new Array<number>(n);
      for (let i = 0; i < n; i++) ints[i] = saturateInt(values[i]!);
      return packSubByte(ints, info.bits as 2 | 4);
    }
    case DataType.UNDEFINED:
    case DataType.STRING:
    case DataType.COMPLEX64:
    case DataType.COMPLEX128:
      throw new RangeError(`${info.name} has no float32 codec`);
  }
}
