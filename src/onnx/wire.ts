/**
 * A protobuf binary encoder over @bufbuild/protobuf descriptors that never copies large `bytes`
 * fields: it returns the encoding as a list of chunks in which every bytes value of at least
 * `LARGE_BYTES` is the caller's own buffer (a zero-copy view into the file it was decoded
 * from). A 1 GiB model is thus written with one pass over its weights instead of the three
 * copies that nested length-prefixed messages cost a buffer-based writer.
 *
 * It writes what `toBinary` writes, byte for byte: fields in number order, unknown fields last,
 * explicit presence by own property, packed lists when the descriptor says so.
 */
import type { DescField, DescMessage, Message } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';

const LARGE_BYTES = 1 << 16;
const IMPLICIT = 2;

type AnyMessage = Message & Record<string, unknown> & { $unknown?: { no: number; wireType: number; data: Uint8Array }[] };

/**
 * Message sizes in pre-order: the size pass reserves a slot when it enters a message and fills
 * it when it leaves; the write pass visits messages in the same order and reads them in turn.
 */
class SizeCache {
  readonly sizes: number[] = [];
  private cursor = 0;
  reserve(): number {
    this.sizes.push(0);
    return this.sizes.length - 1;
  }
  nextSize(): number {
    return this.sizes[this.cursor++]!;
  }
}

function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 2 ** 35) return 5;
  // Large unsigned 32-bit values (uint32 up to 2^32-1).
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function varint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

const textEncoder = new TextEncoder();

function utf8Length(s: string): number {
  // Fast path for ASCII, which is nearly every ONNX name.
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return textEncoder.encode(s).length;
  }
  return n;
}

function scalarSize(t: ScalarType, v: unknown): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4;
    case ScalarType.BOOL:
      return 1;
    case ScalarType.INT32:
      return varintSize(v as number);
    case ScalarType.UINT32:
      return varintSize((v as number) >>> 0);
    case ScalarType.SINT32: {
      const n = v as number;
      return varintSize(((n << 1) ^ (n >> 31)) >>> 0);
    }
    case ScalarType.INT64:
    case ScalarType.UINT64:
      return varint64Size(BigInt(v as bigint));
    case ScalarType.SINT64: {
      const n = BigInt(v as bigint);
      return varint64Size((n << 1n) ^ (n >> 63n));
    }
    case ScalarType.STRING: {
      const len = utf8Length(v as string);
      return varintSize(len) + len;
    }
    case ScalarType.BYTES: {
      const len = (v as Uint8Array).byteLength;
      return varintSize(len) + len;
    }
  }
}

function wireTypeOf(t: ScalarType): number {
  switch (t) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return 2;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    default:
      return 0;
  }
}

function tagSize(no: number): number {
  return varintSize(no << 3);
}

function sortedFields(desc: DescMessage): readonly DescField[] {
  return desc.fields.concat().sort((a, b) => a.number - b.number);
}
const fieldOrder = new WeakMap<DescMessage, readonly DescField[]>();
function fieldsOf(desc: DescMessage): readonly DescField[] {
  let f = fieldOrder.get(desc);
  if (f === undefined) {
    f = sortedFields(desc);
    fieldOrder.set(desc, f);
  }
  return f;
}

function scalarTypeOf(field: DescField): ScalarType {
  if (field.fieldKind === 'enum') return ScalarType.INT32;
  if (field.fieldKind === 'list') return field.listKind === 'enum' ? ScalarType.INT32 : (field.scalar ?? ScalarType.INT32);
  if (field.fieldKind === 'scalar') return field.scalar;
  return ScalarType.INT32;
}

/** Whether a singular field is written, exactly as toBinary decides. */
function isWritten(field: DescField, msg: AnyMessage): boolean {
  if (field.fieldKind === 'list' || field.fieldKind === 'map') return false;
  if (field.oneof) {
    const o = msg[field.oneof.localName] as { case?: string };
    return o.case === field.localName;
  }
  const value = msg[field.localName];
  if (field.presence !== IMPLICIT) return value !== undefined && Object.prototype.hasOwnProperty.call(msg, field.localName);
  if (field.fieldKind === 'message') return value !== undefined;
  if (field.fieldKind === 'enum') return value !== field.enum.values[0]!.number;
  switch (field.scalar) {
    case ScalarType.BOOL:
      return value !== false;
    case ScalarType.STRING:
      return value !== '';
    case ScalarType.BYTES:
      return !(value instanceof Uint8Array) || value.byteLength > 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return !Object.is(value, 0);
    default:
      return (value as number) != 0;
  }
}

function singularValue(field: DescField, msg: AnyMessage): unknown {
  if (field.fieldKind !== 'list' && field.fieldKind !== 'map' && field.oneof) {
    return (msg[field.oneof.localName] as { value: unknown }).value;
  }
  return msg[field.localName];
}

function messageSize(desc: DescMessage, msg: AnyMessage, cache: SizeCache): number {
  const slot = cache.reserve();
  let size = 0;
  for (const field of fieldsOf(desc)) {
    const no = field.number;
    if (field.fieldKind === 'list') {
      const items = msg[field.localName] as unknown[];
      if (items.length === 0) continue;
      if (field.listKind === 'message') {
        for (const item of items) {
          const s = messageSize(field.message!, item as AnyMessage, cache);
          size += tagSize(no) + varintSize(s) + s;
        }
      } else {
        const t = scalarTypeOf(field);
        if (field.packed) {
          let body = 0;
          for (const item of items) body += scalarSize(t, item);
          size += tagSize(no) + varintSize(body) + body;
        } else {
          for (const item of items) size += tagSize(no) + scalarSize(t, item);
        }
      }
    } else if (field.fieldKind === 'map') {
      throw new Error(`map field ${field.name} is not supported by the ONNX encoder`);
    } else if (isWritten(field, msg)) {
      const v = singularValue(field, msg);
      if (field.fieldKind === 'message') {
        const s = messageSize(field.message, v as AnyMessage, cache);
        size += tagSize(no) + varintSize(s) + s;
      } else size += tagSize(no) + scalarSize(scalarTypeOf(field), v);
    }
  }
  for (const u of msg.$unknown ?? []) size += tagSize(u.no) + u.data.byteLength;
  cache.sizes[slot] = size;
  return size;
}

/** Accumulates small writes in blocks and large byte fields as their own chunks. */
class ChunkWriter {
  readonly chunks: Uint8Array[] = [];
  private block: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(private readonly blockSize: number) {
    this.block = new Uint8Array(blockSize);
    this.view = new DataView(this.block.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.block.length) return;
    this.flush();
    const size = Math.max(this.blockSize, n);
    this.block = new Uint8Array(size);
    this.view = new DataView(this.block.buffer);
  }

  private flush(): void {
    if (this.pos > 0) this.chunks.push(this.block.subarray(0, this.pos));
    this.block = this.block.subarray(this.pos);
    this.view = new DataView(this.block.buffer, this.block.byteOffset, this.block.byteLength);
    this.pos = 0;
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  varint(v: number): void {
    this.ensure(10);
    if (v < 0) {
      this.varint64(BigInt(v));
      return;
    }
    while (v >= 0x80) {
      this.block[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.block[this.pos++] = v;
  }

  varint64(v: bigint): void {
    this.ensure(10);
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      this.block[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.block[this.pos++] = Number(u);
  }

  tag(no: number, wireType: number): void {
    this.varint((no << 3) | wireType);
  }

  raw(bytes: Uint8Array): void {
    if (bytes.byteLength >= LARGE_BYTES) {
      this.flush();
      this.chunks.push(bytes);
      return;
    }
    this.ensure(bytes.byteLength);
    this.block.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  scalar(t: ScalarType, v: unknown): void {
    switch (t) {
      case ScalarType.DOUBLE:
        this.ensure(8);
        this.view.setFloat64(this.pos, v as number, true);
        this.pos += 8;
        return;
      case ScalarType.FLOAT:
        this.ensure(4);
        this.view.setFloat32(this.pos, v as number, true);
        this.pos += 4;
        return;
      case ScalarType.FIXED64:
      case ScalarType.SFIXED64:
        this.ensure(8);
        this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(v as bigint)), true);
        this.pos += 8;
        return;
      case ScalarType.FIXED32:
      case ScalarType.SFIXED32:
        this.ensure(4);
        this.view.setUint32(this.pos, (v as number) >>> 0, true);
        this.pos += 4;
        return;
      case ScalarType.BOOL:
        this.varint(v ? 1 : 0);
        return;
      case ScalarType.INT32:
        this.varint(v as number);
        return;
      case ScalarType.UINT32:
        this.varint((v as number) >>> 0);
        return;
      case ScalarType.SINT32: {
        const n = v as number;
        this.varint(((n << 1) ^ (n >> 31)) >>> 0);
        return;
      }
      case ScalarType.INT64:
      case ScalarType.UINT64:
        this.varint64(BigInt(v as bigint));
        return;
      case ScalarType.SINT64: {
        const n = BigInt(v as bigint);
        this.varint64((n << 1n) ^ (n >> 63n));
        return;
      }
      case ScalarType.STRING: {
        const str = v as string;
        const len = utf8Length(str);
        this.varint(len);
        if (len === str.length) {
          // ASCII (nearly every ONNX name): write the code units directly, no allocation.
          this.ensure(len);
          for (let i = 0; i < len; i++) this.block[this.pos++] = str.charCodeAt(i);
        } else this.raw(textEncoder.encode(str));
        return;
      }
      case ScalarType.BYTES: {
        const bytes = v as Uint8Array;
        this.varint(bytes.byteLength);
        this.raw(bytes);
        return;
      }
    }
  }
}

function writeMessage(desc: DescMessage, msg: AnyMessage, w: ChunkWriter, cache: SizeCache): void {
  for (const field of fieldsOf(desc)) {
    const no = field.number;
    if (field.fieldKind === 'list') {
      const items = msg[field.localName] as unknown[];
      if (items.length === 0) continue;
      if (field.listKind === 'message') {
        for (const item of items) {
          w.tag(no, 2);
          w.varint(cache.nextSize());
          writeMessage(field.message!, item as AnyMessage, w, cache);
        }
      } else {
        const t = scalarTypeOf(field);
        if (field.packed) {
          let body = 0;
          for (const item of items) body += scalarSize(t, item);
          w.tag(no, 2);
          w.varint(body);
          for (const item of items) w.scalar(t, item);
        } else {
          for (const item of items) {
            w.tag(no, wireTypeOf(t));
            w.scalar(t, item);
          }
        }
      }
    } else if (field.fieldKind !== 'map' && isWritten(field, msg)) {
      const v = singularValue(field, msg);
      if (field.fieldKind === 'message') {
        w.tag(no, 2);
        w.varint(cache.nextSize());
        writeMessage(field.message, v as AnyMessage, w, cache);
      } else {
        const t = scalarTypeOf(field);
        w.tag(no, wireTypeOf(t));
        w.scalar(t, v);
      }
    }
  }
  for (const u of msg.$unknown ?? []) {
    w.tag(u.no, u.wireType);
    w.raw(u.data);
  }
}

/** Encode a message as a list of chunks whose concatenation is its protobuf binary form. */
export function encodeChunks(desc: DescMessage, msg: Message): { chunks: Uint8Array[]; size: number } {
  const cache = new SizeCache();
  const size = messageSize(desc, msg as AnyMessage, cache);
  cache.nextSize(); // the root's own size is not written
  const w = new ChunkWriter(Math.min(1 << 20, Math.max(64, size)));
  writeMessage(desc, msg as AnyMessage, w, cache);
  return { chunks: w.finish(), size };
}

export function concatChunks(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
