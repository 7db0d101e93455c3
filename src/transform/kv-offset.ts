/**
 * Key centering (ctc_extensions.k_cache_centering): what the offset is, and how a compiled model
 * says that its quantized cache interface holds centered keys.
 *
 * For any constant vector m per key head, q·(k_j − m) = q·k_j − q·m, and q·m is the same for
 * every key j of a query, so softmax over j — the attention — is unchanged. m is the mean key
 * of the calibration data: subtracting it removes the per-channel offset that trained keys carry
 * and that a per-head int4 grid would otherwise spend its range on. With a transform_config
 * rotation the quantized keys are K·H, whose mean is μ·H: the offset is taken in that space.
 *
 * center-k writes this record into the model's metadata_props under KV_OFFSET_KEY when the cache
 * interface (--cache-io quantized) holds the centered keys; `ctc inspect --json` reports it.
 */
import type { Model } from '../ir/model.js';
import { hadamardMatrix } from './hadamard.js';
import { readMetadataRecord, writeMetadataRecord } from './metadata-record.js';

export const KV_OFFSET_KEY = 'ctc.kv_cache_offset';

export interface KvOffsetRecord {
  /** What the cache tensors hold in place of the keys (K·H with a rotation, else K). */
  readonly holds: string;
  /** Cache tensor name → the initializer holding the offset m subtracted from its keys. */
  readonly tensors: Readonly<Record<string, string>>;
}

/**
 * The offset in the space of the quantized keys: the mean μ [kv_heads · head_dim] itself, or
 * μ·H per head when the keys are rotated by the block-diagonal Hadamard matrix of order `block`.
 */
export function offsetOf(mean: Float64Array, heads: number, headDim: number, block: number | undefined): Float64Array {
  if (block === undefined) return Float64Array.from(mean);
  const h = hadamardMatrix(headDim, block);
  const out = new Float64Array(mean.length);
  for (let head = 0; head < heads; head++) {
    for (let j = 0; j < headDim; j++) {
      let s = 0;
      for (let i = 0; i < headDim; i++) s += mean[head * headDim + i]! * h[i * headDim + j]!;
      out[head * headDim + j] = s;
    }
  }
  return out;
}

export function writeKvOffset(model: Model, record: KvOffsetRecord): void {
  writeMetadataRecord(model, KV_OFFSET_KEY, record);
}

/** The record of a compiled model, or undefined (a malformed one too). */
export function readKvOffset(model: Model): KvOffsetRecord | undefined {
  return readMetadataRecord<KvOffsetRecord>(model, KV_OFFSET_KEY, (r) => typeof r.holds === 'string' && r.tensors !== null && typeof r.tensors === 'object');
}
