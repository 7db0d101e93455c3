/**
 * The calibration runner: runs the observer graph with onnxruntime over the data sets and
 * collects, per set, the per-head statistics of every quantized edge.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Model } from '../ir/model.js';
import { saveModel } from '../onnx/model-file.js';
import { encodeModel } from '../onnx/serde.js';
import { concatChunks } from '../onnx/wire.js';
import type { QuantEdge } from '../quant/edges.js';
import { insertObservers } from '../../passes/insert-observers.js';
import type { Observer } from '../../passes/insert-observers.js';
import type { DataSet } from './data.js';
import { mseRange } from './observers.js';
import type { ExecutionProvider } from './ort.js';
import { createSession, toOrtTensor } from './ort.js';
import type { Batch, EdgeBatch, Stats } from './stats.js';
import { edgeKeys } from './stats.js';

export interface Progress {
  start(total: number, what: string): void;
  tick(label: string): void;
  done(): void;
}

export const silentProgress: Progress = { start: () => {}, tick: () => {}, done: () => {} };

export interface CalibrateOptions {
  readonly modelPath: string;
  /** A fresh copy of the model (observers are inserted into it). */
  readonly model: Model;
  readonly edges: readonly QuantEdge[];
  readonly sets: readonly DataSet[];
  readonly providers: readonly ExecutionProvider[];
  readonly threads?: number;
  readonly progress: Progress;
  readonly warn: (m: string) => void;
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function hasExternalData(model: Model): boolean {
  return model.graph.initializers.some((v) => v.initializer?.isExternal());
}

/** Create a session on a model in memory, or beside its external data through a temporary file. */
async function sessionFor(model: Model, modelPath: string, opts: CalibrateOptions) {
  const options = { providers: opts.providers, ...(opts.threads ? { intraOpThreads: opts.threads } : {}), warn: opts.warn };
  if (!hasExternalData(model)) {
    const e = encodeModel(model);
    return createSession(concatChunks(e.chunks, e.size), options);
  }
  // External locations are relative to the model's folder: a hidden temporary file there.
  const tmp = join(dirname(modelPath), `.${basename(modelPath)}.ctc-observe-${process.pid}.onnx`);
  saveModel(model, tmp);
  try {
    return await createSession(tmp, options);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Per-head values of one observed tensor: min and max along every axis but `headAxis`. */
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

export async function calibrate(opts: CalibrateOptions): Promise<Stats> {
  const observers: Observer[] = insertObservers(opts.model, opts.edges);
  const session = await sessionFor(opts.model, opts.modelPath, opts);
  const fetches = [...new Set(observers.map((o) => o.output))];
  const batches: Batch[] = [];
  opts.progress.start(opts.sets.length, 'calibrating');
  try {
    for (const set of opts.sets) {
      const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
      for (const [name, t] of set.load()) feeds[name] = toOrtTensor(t);
      const out = await session.run(feeds, fetches);
      const edges: EdgeBatch[] = opts.edges.map((e, ei) => {
        const mine = observers.filter((o) => o.edge === ei);
        const read = (stat: 'min' | 'max'): number[] => {
          const parts = mine.filter((o) => o.stat === stat).map((o) => Array.from(out[o.output]!.data as Float32Array));
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
            return Array.from(perHeadValues(t.data as Float32Array, dims, axis, h));
          }),
        );
        if (e.args.strategy === 'tensor') {
          const [lo, hi] = mseRange(headsValues.flat(), Math.min(...min), Math.max(...max), e.args);
          return { min, max, mseMin: min.map(() => lo), mseMax: max.map(() => hi) };
        }
        const best = headsValues.map((vals, h) => mseRange(vals, min[h]!, max[h]!, e.args));
        return { min, max, mseMin: best.map((b) => b[0]), mseMax: best.map((b) => b[1]) };
      });
      batches.push({ set: set.key, edges });
      opts.progress.tick(set.key);
    }
  } finally {
    opts.progress.done();
    await session.release();
  }
  return { format: 'ctc-stats/1', model: fileSha256(opts.modelPath), edges: edgeKeys(opts.edges), batches };
}
