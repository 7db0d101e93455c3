/**
 * Calibration statistics: per batch (data set), per quantized edge, per head, the observed min
 * and max (and, for the mse observer, the best clipped range of that batch). Kept per batch so
 * that any observer can be applied afterwards and so that statistics computed in several
 * processes merge exactly as if computed in one: batches are ordered by their set key.
 */
import { readFileSync } from 'node:fs';
import { CalibrationError } from '../errors.js';
import type { QuantEdge } from '../quant/edges.js';

export interface EdgeBatch {
  readonly min: number[];
  readonly max: number[];
  /** mse observer only: the per-head range with the least quantization error on this batch. */
  readonly mseMin?: number[];
  readonly mseMax?: number[];
}

export interface Batch {
  readonly set: string;
  /** Indexed like `edges`. */
  readonly edges: EdgeBatch[];
}

export interface EdgeKey {
  readonly site: string;
  readonly role: string;
  readonly heads: number;
}

export interface Stats {
  readonly format: 'ctc-stats/1';
  /** sha256 of the model file the statistics were observed on. */
  readonly model: string;
  readonly edges: EdgeKey[];
  readonly batches: Batch[];
}

const naturalKey = (s: string): (string | number)[] => s.split(/(\d+)/).map((p, i) => (i % 2 ? Number(p) : p));
export function compareSetKeys(a: string, b: string): number {
  const x = naturalKey(a);
  const y = naturalKey(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    return typeof x[i] === 'number' && typeof y[i] === 'number' ? (x[i] as number) - (y[i] as number) : String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return x.length - y.length;
}

export function edgeKeys(edges: readonly QuantEdge[]): EdgeKey[] {
  return edges.map((e) => ({ site: e.site, role: e.role, heads: e.heads }));
}

/** Merge statistics files: same model, same edges, disjoint sets; batches in set order. */
export function mergeStats(all: readonly Stats[], sources: readonly string[]): Stats {
  const first = all[0]!;
  const seen = new Map<string, string>();
  const batches: Batch[] = [];
  all.forEach((s, i) => {
    if (s.model !== first.model) throw new CalibrationError(`${sources[i]}: statistics of another model (sha256 ${s.model.slice(0, 12)}… vs ${first.model.slice(0, 12)}…)`);
    if (JSON.stringify(s.edges) !== JSON.stringify(first.edges)) throw new CalibrationError(`${sources[i]}: statistics of other edges than ${sources[0]} (another rule set?)`);
    for (const b of s.batches) {
      const prev = seen.get(b.set);
      if (prev !== undefined) throw new CalibrationError(`set ${b.set} appears in both ${prev} and ${sources[i]}`);
      seen.set(b.set, sources[i]!);
      batches.push(b);
    }
  });
  batches.sort((a, b) => compareSetKeys(a.set, b.set));
  return { format: 'ctc-stats/1', model: first.model, edges: first.edges, batches };
}

export function readStats(file: string): Stats {
  let s: Stats;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as Stats;
  } catch (e) {
    throw new CalibrationError(`${file}: not a statistics file (${(e as Error).message})`);
  }
  if (s.format !== 'ctc-stats/1' || !Array.isArray(s.batches) || !Array.isArray(s.edges)) throw new CalibrationError(`${file}: not a ctc statistics file (format ctc-stats/1)`);
  return s;
}

/** Deterministic JSON: keys in a fixed order, numbers as JS prints them (round-trip exact). */
export function statsToJson(s: Stats): string {
  return `${JSON.stringify(s)}\n`;
}
