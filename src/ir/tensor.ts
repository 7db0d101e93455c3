/**
 * A constant tensor. Its bytes are either a zero-copy view into the decoded file, values from
 * the typed repeated fields of a TensorProto, or a range of an external data file that is read
 * only when `bytes()` is first called.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { DataType, dataTypeInfo, decodeToFloat32, encodeFromFloat32, rawByteLength } from './dtypes.js';

export type TensorStorage =
  | { readonly kind: 'raw'; readonly bytes: Uint8Array }
  /** Values from float_data / int32_data / int64_data / double_data / uint64_data, as decoded. */
  | { readonly kind: 'fields'; readonly values: readonly (number | bigint)[] }
  | { readonly kind: 'strings'; readonly values: readonly Uint8Array[] }
  | {
      readonly kind: 'external';
      /** Absolute, checked to lie inside the model's folder. */
      readonly path: string;
      /** The `location` as written in the model. */
      readonly location: string;
      readonly offset: number;
      readonly length: number;
    };

export class Tensor {
  name: string;
  readonly dataType: DataType;
  readonly dims: readonly number[];
  readonly storage: TensorStorage;
  docString = '';
  /** Opaque: the decoded TensorProto, reused on encode while the tensor is unchanged. */
  source: unknown;
  private loaded: Uint8Array | undefined;

  constructor(name: string, dataType: DataType, dims: readonly number[], storage: TensorStorage) {
    this.name = name;
    this.dataType = dataType;
    this.dims = dims;
    this.storage = storage;
  }

  static fromFloat32(name: string, dataType: DataType, dims: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor(name, dataType, dims, { kind: 'raw', bytes: encodeFromFloat32(dataType, values) });
  }

  static fromInt64(name: string, dims: readonly number[], values: readonly (number | bigint)[]): Tensor {
    const bytes = new Uint8Array(values.length * 8);
    const dv = new DataView(bytes.buffer);
    values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    return new Tensor(name, DataType.INT64, dims, { kind: 'raw', bytes });
  }

  /**
   * A new Tensor object over the same storage (and, for external data already read, the same
   * bytes): no byte is copied. Renaming the copy leaves this one's name alone.
   */
  clone(): Tensor {
    const c = new Tensor(this.name, this.dataType, this.dims, this.storage);
    c.docString = this.docString;
    c.source = this.source;
    c.loaded = this.loaded;
    return c;
  }

  get size(): number {
    return this.dims.reduce((a, b) => a * b, 1);
  }

  isExternal(): boolean {
    return this.storage.kind === 'external';
  }

  /** Bytes in raw_data layout (little-endian, sub-byte types packed). Reads external data once. */
  bytes(): Uint8Array {
    if (this.loaded !== undefined) return this.loaded;
    const s = this.storage;
    switch (s.kind) {
      case 'raw':
        return s.bytes;
      case 'external': {
        const fd = openSync(s.path, 'r');
        try {
          const buf = new Uint8Array(s.length);
          let done = 0;
          while (done < s.length) {
            const n = readSync(fd, buf, done, s.length - done, s.offset + done);
            if (n === 0) throw new Error(`external data ${s.location} ends before ${s.offset + s.length} bytes`);
            done += n;
          }
          this.loaded = buf;
          return buf;
        } finally {
          closeSync(fd);
        }
      }
      case 'fields':
        this.loaded = fieldsToRaw(this.dataType, s.values, this.size);
        return this.loaded;
      case 'strings':
        throw new Error(`tensor ${this.name} holds strings, which have no raw form`);
    }
  }

  /** Values as float32 (for numeric types). Copies, so the result is aligned and writable. */
  toFloat32(): Float32Array {
    return decodeToFloat32(this.dataType, this.bytes(), this.size);
  }

  /** Integer values as JS numbers (int64 beyond 2^53 lose precision; shape constants never are). */
  toNumbers(): number[] {
    if (this.dataType === DataType.INT64) {
      const b = this.bytes();
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const out: number[] = [];
      for (let i = 0; i < this.size; i++) out.push(Number(dv.getBigInt64(i * 8, true)));
      return out;
    }
    return Array.from(this.toFloat32());
  }
}

/** Converts the typed repeated fields of a TensorProto to raw_data layout. */
function fieldsToRaw(dataType: DataType, values: readonly (number | bigint)[], count: number): Uint8Array {
  const bytes = new Uint8Array(rawByteLength(dataType, count));
  const dv = new DataView(bytes.buffer);
  switch (dataType) {
    case DataType.INT64:
      values.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
      return bytes;
    case DataType.UINT64:
      values.forEach((v, i) => dv.setBigUint64(i * 8, BigInt(v), true));
      return bytes;
    case DataType.UINT32:
      values.forEach((v, i) => dv.setUint32(i * 4, Number(v) >>> 0, true));
      return bytes;
    case DataType.FLOAT:
    case DataType.DOUBLE:
    case DataType.COMPLEX64:
    case DataType.COMPLEX128:
      return encodeFromFloat32(dataType === DataType.FLOAT || dataType === DataType.COMPLEX64 ? DataType.FLOAT : DataType.DOUBLE, values.map(Number));
    default: {
      // int32_data holds every type of 16 bits or less as its bit pattern (sub-byte types two
      // or four per entry), widened to int32.
      const { bits } = dataTypeInfo(dataType);
      if (bits >= 8) {
        const per = bits / 8;
        values.forEach((v, i) => {
          const n = Number(v);
          if (per === 1) dv.setUint8(i, n & 0xff);
          else if (per === 2) dv.setUint16(i * 2, n & 0xffff, true);
          else dv.setInt32(i * 4, n, true);
        });
        return bytes;
      }
      values.forEach((v, i) => {
        if (i < bytes.length) bytes[i] = Number(v) & 0xff;
      });
      return bytes;
    }
  }
}
