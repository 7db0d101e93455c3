/**
 * The calibration runner: runs the observer graph (built by compile, see observer-graph.ts)
 * with onnxruntime over the data sets and collects, per set, the per-head statistics of every
 * quantized edge.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CalibrationError } from '../errors.js';
import type { QuantEdge } from '../quant/edges.js';
import type { DataSet } from './data.js';
import type { Observer, ObserverGraph } from './observer-graph.js';
import { mseRange } from './observers.js';
import type { ExecutionProvider } from './ort.js';
import { createSession, ortToFloat64, toOrtTensor } from './ort.js';
import type { Session, SessionOptions } from './ort.js';
import type { ort } from './ort.js';
import type { Batch, EdgeBatch, Stats } from './stats.js';
import { edgeKeys } from './stats.js';

export interface Progress {
  /** Begin a task of `total` units ("sets" unless told: copying counts MiB). */
  start(total: number, what: string, unit?: string): void;
  /** `amount` more units are done (1 unless told); `label` names the last. */
  tick(label: string, amount?: number): void;
  done(): void;
}

export const silentProgress: Progress = { start: () => {}, tick: () => {}, done: () => {} };

/** What both runners (whole graph here, layer by layer in layerwise.ts) are given. */
export interface CalibrateOptions {
  /** The model file observed (its folder holds the external data). */
  readonly modelPath: string;
  readonly edges: readonly QuantEdge[];
  readonly sets: readonly DataSet[];
  readonly providers: readonly ExecutionProvider[];
  readonly threads?: number;
  /** CUDA devices to spread the sets over, one session each (undefined: one session, device 0). */
  readonly devices?: readonly number[];
  readonly progress: Progress;
  readonly warn: (m: string) => void;
}

export interface WholeGraphOptions extends CalibrateOptions {
  readonly graph: ObserverGraph;
}

/** The hash saved statistics name their model by, from the model file's bytes. */
export function modelHash(fileBytes: Uint8Array): string {
  return createHash('sha256').update(fileBytes).digest('hex');
}

export function fileSha256(path: string): string {
  return modelHash(readFileSync(path));
}

/**
 * A session on the observer graph, in memory; external data is read from the model's folder,
 * where nothing is written.
 */
async function sessionFor(graph: ObserverGraph, opts: CalibrateOptions, deviceId: number | undefined) {
  // Observing needs no graph optimization (onnxruntime's own calibrator disables it too); it
  // would only make the session slower to create.
  return createSession(graph.bytes, sessionOptions(opts.modelPath, opts, deviceId));
}

/** Options of every calibration session: no optimization, external data read in place. */
export function sessionOptions(modelPath: string, opts: CalibrateOptions, deviceId: number | undefined): SessionOptions {
  return {
    providers: opts.providers,
    optimization: 'disabled',
    externalDataDir: dirname(resolve(modelPath)),
    ...(opts.threads ? { intraOpThreads: opts.threads } : {}),
    ...(deviceId !== undefined ? { deviceId } : {}),
    warn: opts.warn,
  };
}

/**
 * Run `each` for sets 0..count-1 with one session per device: device k takes sets k, k+n, k+2n …
 * in order, the devices at once. Results come back in set order, so statistics merge exactly as
 * from one device. Sessions are released at the end, also on failure.
 */
export async function overDevices<T>(
  devices: readonly number[] | undefined,
  open: (deviceId: number | undefined) => Promise<Session>,
  count: number,
  each: (session: Session, set: number) => Promise<T>,
): Promise<T[]> {
  const ids = devices && devices.length > 0 ? devices : [undefined];
  const sessions = await Promise.all(ids.map((d) => open(d)));
  const results = new Array<T>(count);
  try {
    await Promise.all(
      sessions.map(async (session, k) => {
        for (let i = k; i < count; i += sessions.length) results[i] = await each(session, i);
      }),
    );
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
  return results;
}

/** The values of one head of an observed tensor (every element whose index on `headAxis` is `head`). */
function perHeadValues(data: Float32Array, dims: readonly number[], headAxis: number, head: number): Float32Array {
  const inner = dims.slice(headAxis + 1).reduce((a, b) => a * b, 1);
  const heads = dims[headAxis]!;
  const outer = dims.slice(0, headAxis).reduce((a, b) => a * b, 1);
  const out = new Float32Array(outer * inner);
  let k = 0;
  for (let o = 0; o < outer; o++) {
    const base = (o * heads + head) * inner;
    for (let i = 0; i < inner; i++) out[k++] = data[base + i]!;
  }
  return out;
}

/**
 * One set's statistics of every edge, from the observer outputs of one run: per head min and max
 * (the smallest and largest over the edge's tensors), and for mse the searched clip.
 */
export function edgeBatches(out: Record<string, ort.Tensor>, observers: readonly Observer[], edges: readonly QuantEdge[]): EdgeBatch[] {
  return edges.map((e, ei) => {
    const mine = observers.filter((o) => o.edge === ei);
    const read = (stat: 'min' | 'max'): number[] => {
      // float32 whatever the model's float type: insertObservers casts the statistics
      const parts = mine.filter((o) => o.stat === stat).map((o) => Array.from((out[o.output]!.data as Float32Array).subarray(o.offset, o.offset + e.heads)));
      return parts[0]!.map((_, h) => (stat === 'min' ? Math.min(...parts.map((p) => p[h]!)) : Math.max(...parts.map((p) => p[h]!))));
    };
    const min = read('min');
    const max = read('max');
    if (e.args.observer !== 'mse') return { min, max };
    // mse: search the clip on this batch's values, per head (or over all heads for tensor).
    const valueObs = mine.filter((o) => o.stat === 'values');
    const headsValues = Array.from({ length: e.heads }, (_, h) =>
      valueObs.flatMap((o) => {
        const t = out[o.output]!;
        const layout = e.tensors[o.tensor]!;
        const axis = layout.layout === 'BSE' ? 2 : layout.headAxis;
        const dims = layout.layout === 'BSE' ? [t.dims[0]!, t.dims[1]!, e.heads, e.headDim] : (t.dims as number[]);
        return Array.from(perHeadValues(Float32Array.from(ortToFloat64(t)), dims, axis, h)); // float16 models: float16 values
      }),
    );
    if (e.args.strategy === 'tensor') {
      const [lo, hi] = mseRange(headsValues.flat(), Math.min(...min), Math.max(...max), e.args);
      return { min, max, mseMin: min.map(() => lo), mseMax: max.map(() => hi) };
    }
    const best = headsValues.map((vals, h) => mseRange(vals, min[h]!, max[h]!, e.args));
    return { min, max, mseMin: best.map((b) => b[0]), mseMax: best.map((b) => b[1]) };
  });
}

/**
 * Run the model on one set. onnxruntime refuses data that the declared shapes allow but the
 * graph does not (lengths that disagree, an index out of range): that is the user's data, so
 * exit 1 naming the set, with onnxruntime's own words.
 */
export async function runOnSet(session: Session, feeds: Record<string, ort.Tensor>, fetches: readonly string[] | undefined, set: string, model = 'the model'): Promise<Record<string, ort.Tensor>> {
  try {
    return await session.run(feeds, fetches);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    // An allocation refused (by the machine, or by the address-space limit of src/cli/address-space.ts)
    // is a tensor the size check could not foresee: sized by a constant or a value inside the graph.
    const fix = /Failed to allocate memory|bad_alloc/i.test(msg)
      ? 'A tensor of the model is larger than this machine can hold on this set: check the constants that size it (a shape or repeat count out of range: the model may be damaged) and this set\'s input values, or leave the set out'
      : "Check that this set's inputs agree with each other (lengths, value ranges), or leave it out";
    throw new CalibrationError(`${set}: onnxruntime could not run ${model} on this set: ${msg.trim()}. ${fix}`);
  }
}

/**
 * Observed activations must be finite: a model that overflows (or makes NaN) on the user's data
 * would otherwise give NaN or infinite scales. The message names the set, the edge and the head.
 */
export function checkFinite(set: string, edges: readonly QuantEdge[], batches: readonly EdgeBatch[]): void {
  batches.forEach((b, k) => {
    const e = edges[k]!;
    for (let h = 0; h < b.min.length; h++) {
      const bad = [b.min[h]!, b.max[h]!].find((x) => !Number.isFinite(x));
      if (bad === undefined) continue;
      throw new CalibrationError(
        `${set}: the model's activations on edge ${e.scaleName} (${e.tensors.map((t) => t.value.name).join(', ')}) reach ${bad} on head ${h}: ` +
          'the model overflows or makes NaN on this data, and no finite scale can cover it; check this set (its inputs are finite), or leave it out with --calib-sets',
      );
    }
  });
}

/** Observed statistics, per set; the caller names the model (a hash only files need). */
export async function calibrate(opts: WholeGraphOptions): Promise<Omit<Stats, 'model'>> {
  const observers = opts.graph.observers;
  const fetches = [...new Set(observers.map((o) => o.output))];
  opts.progress.start(opts.sets.length, 'calibrating');
  let batches: Batch[];
  try {
    batches = await overDevices(opts.devices, (d) => sessionFor(opts.graph, opts, d), opts.sets.length, async (session, i) => {
      const set = opts.sets[i]!;
      const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
      for (const [name, t] of set.load()) feeds[name] = toOrtTensor(t);
      const out = await runOnSet(session, feeds, fetches, set.key);
      const edges = edgeBatches(out, observers, opts.edges);
      checkFinite(set.key, opts.edges, edges);
      opts.progress.tick(set.key);
      return { set: set.key, edges };
    });
  } finally {
    opts.progress.done();
  }
  return { format: 'ctc-stats/1', edges: edgeKeys(opts.edges), batches };
}
