/**
 * How a compiled model says that its quantized cache interface holds rotated keys: rotate-qk
 * writes this record into the model's metadata_props under KV_ROTATION_KEY, and `ctc inspect
 * --json` reports it on each cache tensor it names. With float cache I/O nothing is recorded:
 * the rotation stays inside the graph and the interface holds plain keys.
 */
import type { Model } from '../ir/model.js';
import { readMetadataRecord, writeMetadataRecord } from './metadata-record.js';

export const KV_ROTATION_KEY = 'ctc.kv_cache_rotation';

export interface KvRotationRecord {
  readonly type: 'hadamard';
  /** The Hadamard block (the scheme's head_dim): the rotation is block-diagonal over head_dim. */
  readonly head_dim: number;
  /** Cache inputs and outputs that hold K·H instead of K. */
  readonly tensors: readonly string[];
}

export function writeKvRotation(model: Model, record: KvRotationRecord): void {
  writeMetadataRecord(model, KV_ROTATION_KEY, record);
}

/** The record of a compiled model, or undefined (a malformed one too). */
export function readKvRotation(model: Model): KvRotationRecord | undefined {
  return readMetadataRecord<KvRotationRecord>(model, KV_ROTATION_KEY, (r) => r.type === 'hadamard' && Number.isInteger(r.head_dim) && Array.isArray(r.tensors));
}
