/**
 * A plain-JS reference of QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked),
 * built on the dtype codecs, for checking those codecs against the ONNX backend tests.
 */
import { DataType, dataTypeInfo, decodeToFloat32, encodeFromFloat32, roundHalfEven } from '../../src/ir/dtypes.js';

/** Index of the scale/zero point that element `i` of a tensor of `dims` uses. */
function paramIndex(i: number, dims: readonly number[], paramDims: readonly number[], axis: number, blockSize: number): number {
  if (paramDims.length === 0 || paramDims.reduce((a, b) => a * b, 1) === 1) return 0;
  const coords: number[] = [];
  let r = i;
  for (let d = dims.length - 1; d >= 0; d--) {
    coords[d] = r % dims[d]!;
    r = Math.floor(r / dims[d]!);
  }
  if (paramDims.length === 1) return coords[axis]!; // per axis
  // blocked: same rank, the axis coordinate divided by the block size
  let idx = 0;
  for (let d = 0; d < dims.length; d++) {
    const c = d === axis ? Math.floor(coords[d]! / blockSize) : coords[d]!;
    idx = idx * paramDims[d]! + c;
  }
  return idx;
}

/**
 * `zeroZeroPoint`: 'add' follows the ONNX formula (x/s + 0 turns -0 into +0, as the backend
 * tests expect); 'skip' follows onnxruntime, which does not add a zero point of 0 for float8
 * and so keeps -0. The two differ only in the sign of zero.
 */
export function quantizeLinear(
  x: Float32Array,
  dims: readonly number[],
  scale: Float32Array,
  scaleDims: readonly number[],
  zp: Float32Array | undefined,
  outType: DataType,
  axis: number,
  blockSize: number,
  zeroZeroPoint: 'add' | 'skip' = 'add',
): Uint8Array {
  const f = Math.fround;
  const info = dataTypeInfo(outType);
  const ax = axis < 0 ? axis + dims.length : axis;
  const values = Array.from(x, (v, i) => {
    const k = paramIndex(i, dims, scaleDims, ax, blockSize);
    const z = zp ? zp[k]! : 0;
    const scaled = f(v / scale[k]!);
    if (info.intRange) return roundHalfEven(scaled) + z; // saturated by the encoder
    // minifloats: rounded and saturated by the encoder
    return z === 0 && zeroZeroPoint === 'skip' ? scaled : f(scaled + z);
  });
  return encodeFromFloat32(outType, values);
}

export function dequantizeLinear(raw: Uint8Array, inType: DataType, dims: readonly number[], scale: Float32Array, scaleDims: readonly number[], zp: Float32Array | undefined, axis: number, blockSize: number): Float32Array {
  const f = Math.fround;
  const n = dims.reduce((a, b) => a * b, 1);
  const q = decodeToFloat32(inType, raw, n);
  const ax = axis < 0 ? axis + dims.length : axis;
  return q.map((v, i) => {
    const k = paramIndex(i, dims, scaleDims, ax, blockSize);
    return f(f(v - (zp ? zp[k]! : 0)) * scale[k]!);
  });
}
