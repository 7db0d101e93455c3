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

/** Key centering's first pass on one set: per site, the sum of the keys per head and channel. */
export interface KeySum {
  readonly site: string;
  /** [kv_heads · head_dim], head-major. */
  readonly sum: number[];
  /** How many key vectors (per head) were summed. */
  readonly count: number;
}

export interface Batch {
  readonly set: string;
  /** Indexed like `edges`. */
  readonly edges: EdgeBatch[];
  /** Rule sets with ctc_extensions.k_cache_centering only (calibrate/key-means.ts). */
  readonly keySums?: KeySum[];
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
  return { format: STATS_FORMAT, model: first.model, edges: first.edges, batches };
}

export const STATS_FORMAT = 'ctc-stats/1';

/**
 * Read and check a statistics file: its format version, its shape (every key, every type), one
 * finite min ≤ max per head, as many edge entries per batch as edges. Each message names the
 * file and the JSON path of the first bad value, e.g. `a.json: batches[3].edges[2].max[5]: …`.
 */
export function readStats(file: string): Stats {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CalibrationError(`${file}: cannot read the statistics file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CalibrationError(`${file}: not a statistics file, not even JSON (${(e as Error).message}); give a file written by --save-stats`);
  }
  return checkStats(doc, file);
}

type Json = unknown;

/** Checks a parsed statistics document; `file` prefixes every message. */
export function checkStats(doc: Json, file: string): Stats {
  const fail = (path: string, msg: string): never => {
    throw new CalibrationError(`${file}: ${path}: ${msg}; give a file written by ctc compile --save-stats`);
  };
  const kind = (x: Json): string => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? 'an object' : `${typeof x} ${JSON.stringify(x)}`);
  const object = (x: Json, path: string): Record<string, Json> => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, Json>) : fail(path, `expected an object, found ${kind(x)}`));
  const array = (x: Json, path: string): Json[] => (Array.isArray(x) ? x : fail(path, `expected an array, found ${x === undefined ? 'nothing (the key is missing)' : kind(x)}`));
  const string = (x: Json, path: string): string => (typeof x === 'string' ? x : fail(path, `expected a string, found ${x === undefined ? 'nothing (the key is missing)' : kind(x)}`));
  const numbers = (x: Json, path: string, heads: number): number[] => {
    const a = array(x, path);
    if (a.length !== heads) fail(path, `has ${a.length} value(s), but the edge has ${heads} head(s): one per head`);
    a.forEach((v, i) => {
      if (typeof v !== 'number') fail(`${path}[${i}]`, `expected a number, found ${kind(v)}`);
      else if (!Number.isFinite(v)) fail(`${path}[${i}]`, `${v} is not a finite number`);
    });
    return a as number[];
  };
  const top = object(doc, '(top level)');
  if (top['format'] !== STATS_FORMAT) {
    fail('format', top['format'] === undefined ? `missing: not a ctc statistics file (format ${STATS_FORMAT})` : `${JSON.stringify(top['format'])} is not a format this ctc reads (${STATS_FORMAT})`);
  }
  const model = string(top['model'], 'model');
  if (!/^[0-9a-f]{64}$/.test(model)) fail('model', `expected the sha256 of the model file (64 hex digits), found ${JSON.stringify(model)}`);
  const edges: EdgeKey[] = array(top['edges'], 'edges').map((x, i) => {
    const e = object(x, `edges[${i}]`);
    const role = string(e['role'], `edges[${i}].role`);
    if (!['q', 'k', 'v'].includes(role)) fail(`edges[${i}].role`, `expected "q", "k" or "v", found ${JSON.stringify(role)}`);
    const heads = e['heads'];
    if (typeof heads !== 'number' || !Number.isSafeInteger(heads) || heads < 1) fail(`edges[${i}].heads`, `expected a head count (a whole number ≥ 1), found ${heads === undefined ? 'nothing (the key is missing)' : kind(heads)}`);
    return { site: string(e['site'], `edges[${i}].site`), role, heads: heads as number };
  });
  if (edges.length === 0) fail('edges', 'is empty: statistics cover at least one edge');
  const batches = array(top['batches'], 'batches').map((x, b): Batch => {
    const batch = object(x, `batches[${b}]`);
    const set = string(batch['set'], `batches[${b}].set`);
    const per = array(batch['edges'], `batches[${b}].edges`);
    if (per.length !== edges.length) fail(`batches[${b}].edges`, `has ${per.length} entries, but the file lists ${edges.length} edges: one per edge`);
    const keySums = batch['keySums'] === undefined ? undefined : array(batch['keySums'], `batches[${b}].keySums`).map((z, j): KeySum => {
      const path = `batches[${b}].keySums[${j}]`;
      const ks = object(z, path);
      const sum = array(ks['sum'], `${path}.sum`);
      const count = ks['count'];
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`${path}.count`, `expected a count of key vectors (a whole number ≥ 0), found ${count === undefined ? 'nothing (the key is missing)' : kind(count)}`);
      return { site: string(ks['site'], `${path}.site`), sum: numbers(sum, `${path}.sum`, sum.length), count: count as number };
    });
    return {
      set,
      ...(keySums !== undefined ? { keySums } : {}),
      edges: per.map((y, k): EdgeBatch => {
        const path = `batches[${b}].edges[${k}]`;
        const e = object(y, path);
        const heads = edges[k]!.heads;
        const range = (lo: string, hi: string): [number[], number[]] => {
          const min = numbers(e[lo], `${path}.${lo}`, heads);
          const max = numbers(e[hi], `${path}.${hi}`, heads);
          min.forEach((m, h) => {
            if (m > max[h]!) fail(`${path}.${lo}[${h}]`, `${m} is above ${hi}[${h}] = ${max[h]}: a minimum cannot exceed its maximum`);
          });
          return [min, max];
        };
        const [min, max] = range('min', 'max');
        if (e['mseMin'] === undefined && e['mseMax'] === undefined) return { min, max };
        const [mseMin, mseMax] = range('mseMin', 'mseMax');
        return { min, max, mseMin, mseMax };
      }),
    };
  });
  if (batches.length === 0) fail('batches', 'is empty: no data set was observed, so there is nothing to compute scales from');
  return { format: STATS_FORMAT, model, edges, batches };
}

/** The statistics' edges must be the ones the rule set quantizes on this model, in order. */
export function checkStatsEdges(stats: Pick<Stats, 'edges'>, expected: readonly EdgeKey[], file: string, what: string): void {
  const show = (e: EdgeKey): string => `${e.site} ${e.role} (${e.heads} heads)`;
  const n = Math.max(stats.edges.length, expected.length);
  for (let i = 0; i < n; i++) {
    const got = stats.edges[i];
    const want = expected[i];
    if (got !== undefined && want !== undefined && got.site === want.site && got.role === want.role && got.heads === want.heads) continue;
    const found = got === undefined ? 'nothing' : show(got);
    const needed = want === undefined ? 'nothing' : show(want);
    throw new CalibrationError(
      `${file}: edges[${i}]: these statistics cover other edges than ${what}: found ${found} where ${needed} is quantized ` +
        `(${stats.edges.length} edges in the file, ${expected.length} to quantize); save statistics with the same rule set (and --strip-prefix)`,
    );
  }
}

/** Deterministic JSON: keys in a fixed order, numbers as JS prints them (round-trip exact). */
export function statsToJson(s: Stats): string {
  return `${JSON.stringify(s)}\n`;
}
