/**
 * A JSON record ctc keeps in a model's metadata_props under its own key: how a compiled model
 * says what its quantized cache interface holds (kv-rotation.ts, kv-offset.ts). Writing replaces
 * the key's earlier record; reading gives undefined for a missing or malformed one (the record is
 * ctc's own, never the user's input).
 */
import type { Model } from '../ir/model.js';

export function writeMetadataRecord(model: Model, key: string, record: unknown): void {
  model.metadataProps = [...model.metadataProps.filter(([k]) => k !== key), [key, JSON.stringify(record)]];
}

/** The record under `key` when `isValid` accepts it, else undefined. */
export function readMetadataRecord<T>(model: Model, key: string, isValid: (r: T) => boolean): T | undefined {
  const entry = model.metadataProps.find(([k]) => k === key);
  if (entry === undefined) return undefined;
  try {
    const r = JSON.parse(entry[1]) as T;
    return isValid(r) ? r : undefined;
  } catch {
    return undefined;
  }
}
