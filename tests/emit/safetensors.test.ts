/**
 * safetensors files: what encodeSafetensors writes is parsed here by hand from the format's
 * definition (8-byte little-endian header length, JSON header, data), independent of the
 * module's own reader; the reader refuses files that break the format.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, float32Bytes, readSafetensorsHeader } from '../../src/emit/safetensors.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-st-'));

/** The format, parsed by hand: header JSON and the data section. */
function parseByHand(bytes: Buffer): { headerLength: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Buffer; metadata: unknown } {
  const n = Number(bytes.readBigUInt64LE(0));
  const raw = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const { __metadata__: metadata, ...header } = raw;
  return { headerLength: n, header, data: bytes.subarray(8 + n), metadata };
}

describe('encodeSafetensors', () => {
  const tensors = new Map([
    ['b.k_scale', { dtype: 'F32' as const, shape: [2, 1, 1], data: float32Bytes([0.5, 0.03125]) }],
    ['a.q_scale', { dtype: 'F32' as const, shape: [1], data: float32Bytes([3]) }],
    ['a.q_zero_point', { dtype: 'F8_E4M3' as const, shape: [3, 1, 1], data: new Uint8Array(3) }],
  ]);
  const bytes = Buffer.concat(encodeSafetensors(tensors));
  const p = parseByHand(bytes);

  it('writes the header length, space padding to 8 bytes, and the pt format metadata', () => {
    expect((8 + p.headerLength) % 8).toBe(0);
    expect(bytes.subarray(8, 8 + p.headerLength).toString('utf8')).toMatch(/\} *$/);
    expect(p.metadata).toEqual({ format: 'pt' });
  });
  it('sorts tensors by name with contiguous offsets and the values as written', () => {
    expect(Object.keys(p.header)).toEqual(['a.q_scale', 'a.q_zero_point', 'b.k_scale']);
    expect(p.header['a.q_scale']).toEqual({ dtype: 'F32', shape: [1], data_offsets: [0, 4] });
    expect(p.header['a.q_zero_point']).toEqual({ dtype: 'F8_E4M3', shape: [3, 1, 1], data_offsets: [4, 7] });
    expect(p.header['b.k_scale']).toEqual({ dtype: 'F32', shape: [2, 1, 1], data_offsets: [7, 15] });
    expect(p.data.byteLength).toBe(15);
    expect(p.data.readFloatLE(0)).toBe(3);
    expect([p.data.readFloatLE(7), p.data.readFloatLE(11)]).toEqual([0.5, 0.03125]);
  });
  it('is read back by readSafetensorsHeader', () => {
    const f = join(tmp(), 'x.safetensors');
    writeFileSync(f, bytes);
    const h = readSafetensorsHeader(f);
    expect([...h.tensors.keys()]).toEqual(['a.q_scale', 'a.q_zero_point', 'b.k_scale']);
    expect(h.tensors.get('b.k_scale')).toEqual({ dtype: 'F32', shape: [2, 1, 1], dataOffsets: [7, 15] });
    expect(h.dataBytes).toBe(15);
  });
  it('refuses data that does not fit the shape', () => {
    expect(() => encodeSafetensors(new Map([['x', { dtype: 'F32' as const, shape: [2], data: float32Bytes([1]) }]]))).toThrow(/needs 8/);
  });
});

describe('readSafetensorsHeader refuses broken files', () => {
  const write = (header: object, dataBytes: number): string => {
    const json = Buffer.from(JSON.stringify(header));
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(json.byteLength));
    const f = join(tmp(), 'bad.safetensors');
    writeFileSync(f, Buffer.concat([size, json, Buffer.alloc(dataBytes)]));
    return f;
  };
  it('reads a real checkpoint shard written by the reference implementation', () => {
    const f = join(import.meta.dirname, '..', '..', 'corpus', 'llama-gqa-bytes-ts-eager', 'hf', 'model.safetensors');
    const h = readSafetensorsHeader(f);
    expect(h.tensors.get('model.layers.0.self_attn.k_proj.weight')).toMatchObject({ dtype: 'F32', shape: [64, 192] });
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.size).toBe(39);
    expect(h.dataBytes + 8 + Number(readFileSync(f).readBigUInt64LE(0))).toBe(readFileSync(f).byteLength);
  });
  it('a gap between tensors', () => {
    expect(() => readSafetensorsHeader(write({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8))).toThrow(/data starts at 4, expected 0/);
  });
  it('offsets that do not match the shape', () => {
    expect(() => readSafetensorsHeader(write({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(/span 4 bytes, its shape needs 8/);
  });
  it('an unknown dtype', () => {
    expect(() => readSafetensorsHeader(write({ a: { dtype: 'F7', shape: [1], data_offsets: [0, 1] } }, 1))).toThrow(/unknown dtype "F7"/);
  });
  it('data past the last tensor', () => {
    expect(() => readSafetensorsHeader(write({ a: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }, 3))).toThrow(/cover 1 bytes of data, the file holds 3/);
  });
  it('a header length beyond the file', () => {
    const f = join(tmp(), 'short.safetensors');
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(1000n);
    writeFileSync(f, b);
    expect(() => readSafetensorsHeader(f)).toThrow(/header length 1000 exceeds the file/);
  });
});
