/**
 * The first calibration pass of key centering (ctc_extensions.k_cache_centering): the mean of
 * every key head's channels over the calibration data, on the float model before any transform.
 *
 *   model + K tensors as extra outputs ─▶ onnxruntime, set by set ─▶ Σ K[·, h, ·, d] / count
 *
 * The keys are those the cache holds: the whole K of a block that concatenates the cache in the
 * graph (past and new), or the past input and the new keys of an op that concatenates inside, so
 * every cached position counts once. A key tensor that is a graph input (an op's past) is read
 * from the set's own feed. Sums are kept per set in float64 (so statistics files carry them and
 * merge like the other statistics), per site as [kv_heads · head_dim].
 */
import type { Edge, Site } from '../attention/site.js';
import type { Model } from '../ir/model.js';
import { appendToGraph } from '../onnx/serde.js';
import { createSession, ortToFloat64, toOrtTensor } from './ort.js';
import type { ort } from './ort.js';
import type { CalibrateOptions } from './run.js';
import type { KeySum } from './stats.js';
import { CalibrationError } from '../errors.js';
import { runOnSet, sessionOptions } from './run.js';

/** Add each element of `data` (laid out as `edge` with `dims`) to its head's channel in `sum`. */
export function addPerHeadChannel(sum: Float64Array, data: ArrayLike<number>, dims: readonly number[], edge: Edge, heads: number, headDim: number): void {
  const n = data.length;
  if (edge.layout === 'BSE') {
    // packed [.., heads·head_dim]: the channel is the index along the last axis
    const width = heads * headDim;
    for (let i = 0; i < n; i++) sum[i % width]! += data[i]!;
    return;
  }
  // [.., heads, .., head_dim]: head from the head axis, channel from the last axis
  const stride = dims.slice(edge.headAxis + 1).reduce((a, b) => a * b, 1);
  const axisSize = dims[edge.headAxis]!;
  for (let i = 0; i < n; i++) {
    const h = Math.floor(i / stride) % axisSize;
    sum[(h % heads) * headDim + (i % headDim)]! += data[i]!;
  }
}

export interface KeyMeansOptions extends Omit<CalibrateOptions, 'edges'> {
  /** The model's file bytes (the key tensors are appended as outputs, the model left as it is). */
  readonly bytes: Uint8Array;
}

/** Per set (by key), per site: the sum of its cached keys per head and channel, and how many. */
export async function measureKeySums(model: Model, sites: readonly Site[], opts: KeyMeansOptions): Promise<Map<string, KeySum[]>> {
  const g = model.graph;
  const parts = sites.map((s) => [s.k, ...(s.kPast !== undefined ? [s.kPast] : [])]);
  const fetched = [...new Set(parts.flat().map((e) => e.value).filter((v) => !v.isGraphInput()))];
  const added = fetched.filter((v) => !g.outputs.includes(v));
  const bytes = added.length > 0 ? appendToGraph(opts.bytes, { nodes: [], outputs: added, initializers: [] }) : opts.bytes;
  const out = new Map<string, KeySum[]>();
  const session = await createSession(bytes, sessionOptions(opts.modelPath, { ...opts, edges: [] }, opts.devices?.[0]));
  opts.progress.start(opts.sets.length, 'measuring the mean keys');
  try {
    for (const set of opts.sets) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of set.load()) feeds[name] = toOrtTensor(t);
      const got = await runOnSet(session, feeds, fetched.map((v) => v.name), set.key);
      out.set(
        set.key,
        sites.map((s, i) => {
          const sum = new Float64Array(s.numKvHeads * s.headDim);
          let count = 0;
          for (const e of parts[i]!) {
            const t = e.value.isGraphInput() ? feeds[e.value.name]! : got[e.value.name]!;
            const data = ortToFloat64(t);
            addPerHeadChannel(sum, data, t.dims, e, s.numKvHeads, s.headDim);
            count += data.length / sum.length;
          }
          return { site: s.name, sum: [...sum], count };
        }),
      );
      opts.progress.tick(set.key);
    }
  } finally {
    opts.progress.done();
    await session.release();
  }
  return out;
}

/**
 * The mean key of each site [kv_heads · head_dim] from the sums of every set (measured now, or
 * read back from statistics files); `source` names where the sums came from in the error.
 */
export function keyMeans(perSet: readonly (readonly KeySum[] | undefined)[], sites: readonly Site[], source: string): Map<Site, Float64Array> {
  const means = new Map<Site, Float64Array>();
  for (const s of sites) {
    const sum = new Float64Array(s.numKvHeads * s.headDim);
    let count = 0;
    for (const sums of perSet) {
      const mine = sums?.find((k) => k.site === s.name);
      if (mine === undefined || mine.sum.length !== sum.length) {
        throw new CalibrationError(
          `${source}: no key sums of site ${s.name} (${sum.length} values) in every set: the rule set centers the keys (ctc_extensions.k_cache_centering), and these statistics were saved without it; save them again with this rule set`,
        );
      }
      mine.sum.forEach((x, i) => (sum[i]! += x));
      count += mine.count;
    }
    if (count === 0) throw new CalibrationError(`${source}: site ${s.name} cached no key on the calibration data, so its mean key is undefined; calibrate on sets with a past or new keys`);
    means.set(s, sum.map((x) => x / count));
  }
  return means;
}
