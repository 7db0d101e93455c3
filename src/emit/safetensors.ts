/**
 * The safetensors file format (huggingface/safetensors, docs "Format"), the little of it a
 * checkpoint needs: write a file of small tensors, and read the header of an existing shard
 * without reading its data.
 *
 *   ┌──────────────┬───────────────────────────────────────────┬──────────────────────────┐
 *   │ u64 LE  N    │ N bytes of JSON, space-padded to 8 bytes   │ tensor data, back to back │
 *   └──────────────┴───────────────────────────────────────────┴──────────────────────────┘
 *   JSON: {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}}
 *   (offsets relative to the start of the data; the data of all tensors covers it exactly).
 *
 * Written files sort tensors by name (deterministic bytes) and carry `{"format": "pt"}`, the
 * metadata transformers requires before it loads a safetensors file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CtcError } from '../errors.js';

/** Element sizes of the dtypes a header may name. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export interface TensorEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors by name, in the header's order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  /** Bytes of tensor data (the file's size less the header). */
  readonly dataBytes: number;
}

export interface TensorToWrite {
  readonly dtype: 'F32' | 'F8_E4M3' | 'I8';
  readonly shape: readonly number[];
  /** Raw little-endian bytes, numel × element size. */
  readonly data: Uint8Array;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A safetensors file of `tensors`, as byte chunks to write in order. */
export function encodeSafetensors(tensors: ReadonlyMap<string, TensorToWrite>, metadata: Readonly<Record<string, string>> = { format: 'pt' }): Uint8Array[] {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = numel(t.shape) * DTYPE_BYTES[t.dtype]!;
    if (t.data.byteLength !== bytes) throw new Error(`safetensors: ${name} holds ${t.data.byteLength} bytes, its ${t.dtype} shape [${t.shape.join(', ')}] needs ${bytes}`);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so that the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return [size, headerBytes, ...names.map((n) => tensors.get(n)!.data)];
}

/** Float32 values as little-endian bytes. */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const b = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeFloatLE(values[i]!, i * 4);
  return b;
}

/** Upper bound on a header: the reference implementation refuses headers past 100 MB. */
const MAX_HEADER = 100_000_000;

/**
 * The header of the safetensors file at `path`, checked the way the reference reader checks it
 * (known dtypes, offsets that match shapes and tile the data exactly); the data is not read.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const bad = (why: string): never => {
    throw new CtcError(`${path}: not a valid safetensors file (${why})`);
  };
  const fd = openSync(path, 'r');
  try {
    const fileBytes = fstatSync(fd).size;
    const sizeBuf = Buffer.alloc(8);
    if (fileBytes < 8 || readSync(fd, sizeBuf, 0, 8, 0) !== 8) bad('shorter than its 8-byte header length');
    const n = sizeBuf.readBigUInt64LE();
    if (n > BigInt(Math.min(MAX_HEADER, fileBytes - 8))) bad(`header length ${n} exceeds the file or 100 MB`);
    const headerBuf = Buffer.alloc(Number(n));
    if (readSync(fd, headerBuf, 0, headerBuf.byteLength, 8) !== headerBuf.byteLength) bad('truncated header');
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      bad(`header is not JSON: ${(e as Error).message}`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('header is not a JSON object');
    const dataBytes = fileBytes - 8 - Number(n);
    const tensors = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    const spans: [number, number, string][] = [];
    for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = v as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const size = typeof e.dtype === 'string' ? DTYPE_BYTES[e.dtype] : undefined;
      if (size === undefined) bad(`tensor ${name}: unknown dtype ${JSON.stringify(e.dtype)}`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`tensor ${name}: bad shape`);
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) bad(`tensor ${name}: bad data_offsets`);
      const [begin, end] = off as [number, number];
      if (end - begin !== numel(e.shape as number[]) * size!) bad(`tensor ${name}: data_offsets span ${end - begin} bytes, its shape needs ${numel(e.shape as number[]) * size!}`);
      tensors.set(name, { dtype: e.dtype as string, shape: e.shape as number[], dataOffsets: [begin, end] });
      spans.push([begin, end, name]);
    }
    spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let at = 0;
    for (const [begin, end, name] of spans) {
      if (begin !== at) bad(`tensor ${name}: data starts at ${begin}, expected ${at} (tensors must cover the data without gaps or overlap)`);
      at = end;
    }
    if (at !== dataBytes) bad(`tensors cover ${at} bytes of data, the file holds ${dataBytes}`);
    return { metadata, tensors, dataBytes };
  } finally {
    closeSync(fd);
  }
}
