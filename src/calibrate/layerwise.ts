/**
 * Layer-by-layer calibration, for models larger than the device (or than --max-device-memory):
 *
 *   for each part (partition.ts):  a model of just that part's nodes and weights, with observers
 *     for the edges it produces ─▶ one session ─▶ every set, fed the set's own inputs and the
 *     activations the previous part handed over ─▶ statistics + the activations the next part
 *     reads (kept in host memory, per set) ─▶ session released before the next part loads
 *
 * The same nodes run on the same inputs as in one whole-graph run (no optimization either way),
 * so the statistics, and the scales, are the same numbers.
 */
import { sortGraph } from '../ir/topo.js';
import type { Model } from '../ir/model.js';
import { tensorType } from '../ir/types.js';
import { Value } from '../ir/value.js';
import { encodeModel } from '../onnx/serde.js';
import type { QuantEdge } from '../quant/edges.js';
import { createSession, dataTypeOfOrt, toOrtTensor } from './ort.js';
import type { ort } from './ort.js';
import { partitionByLayers } from './partition.js';
import type { Part } from './partition.js';
import type { Observer } from './observer-graph.js';
import type { CalibrateOptions } from './run.js';
import { checkFinite, edgeBatches, overDevices, runOnSet, sessionOptions } from './run.js';
import type { Batch, EdgeBatch, Stats } from './stats.js';
import { edgeKeys } from './stats.js';

export interface LayerwiseOptions extends CalibrateOptions {
  /** The model (a copy this may sort); each part is cut from a clone of it. */
  readonly model: Model;
  /** Inserts observers on a part's edges (compile hands in passes/insert-observers). */
  readonly observe: (part: Model, edges: readonly QuantEdge[]) => { readonly observers: readonly Observer[] };
  /** Weights one part may hold; undefined: one decoder layer per part. */
  readonly budgetBytes?: number;
  /** Told each part's node range and weight bytes before it runs. */
  readonly onPart?: (index: number, part: Part, total: number) => void;
}

/** The part's edges, with their tensors looked up by name in the part's own model. */
function edgesIn(model: Model, edges: readonly QuantEdge[]): QuantEdge[] {
  const byName = new Map<string, Value>();
  for (const v of [...model.graph.inputs, ...model.graph.initializers]) byName.set(v.name, v);
  for (const n of model.graph.nodes) for (const o of n.outputs) byName.set(o.name, o);
  return edges.map((e) => ({ ...e, tensors: e.tensors.map((t) => ({ ...t, value: byName.get(t.value.name)! })) }));
}

/** Activations the part produces for later parts (the rest of carriedOut passes through it). */
function handedOn(part: Part): string[] {
  return part.carriedOut.filter((n) => !part.carriedIn.includes(n));
}

/**
 * Cut a clone of the model down to one part: nodes outside [start, end) removed, the
 * activations it receives as graph inputs (typed from the tensors that will be fed), the ones it
 * hands on as graph outputs, and only the weights and inputs its nodes read.
 */
function partModel(source: Model, part: Part, received: ReadonlyMap<string, ort.Tensor>): Model {
  const m = source.clone();
  sortGraph(m.graph);
  const g = m.graph;
  const nodes = [...g.nodes];
  const values = new Map<string, Value>();
  for (const n of nodes) for (const o of n.outputs) values.set(o.name, o);
  g.outputs.splice(0, g.outputs.length, ...handedOn(part).map((name) => values.get(name)!));
  for (let i = nodes.length - 1; i >= part.end; i--) g.removeNode(nodes[i]!);
  for (const name of part.carriedIn) {
    const t = received.get(name)!;
    const input = new Value(name, tensorType(dataTypeOfOrt(t.type)!));
    values.get(name)!.replaceAllUsesWith(input);
    g.addInput(input);
  }
  for (let i = part.start - 1; i >= 0; i--) g.removeNode(nodes[i]!);
  for (const v of [...g.inputs]) if (v.uses().length === 0 && !part.carriedIn.includes(v.name)) g.removeInput(v);
  for (const v of [...g.initializers]) if (v.uses().length === 0) g.removeInitializer(v);
  return m;
}

export async function calibrateLayerwise(opts: LayerwiseOptions): Promise<Omit<Stats, 'model'>> {
  sortGraph(opts.model.graph);
  const parts = partitionByLayers(opts.model.graph, opts.edges, opts.budgetBytes);
  // Per set: what the next part is fed (the set's inputs, then the activations handed over).
  const feeds: Map<string, ort.Tensor>[] = opts.sets.map((s) => new Map([...s.load()].map(([k, t]) => [k, toOrtTensor(t)])));
  const perSet: EdgeBatch[][] = opts.sets.map(() => new Array<EdgeBatch>(opts.edges.length));
  opts.progress.start(opts.sets.length * parts.length, 'calibrating layer by layer');
  try {
    for (const [pi, part] of parts.entries()) {
      opts.onPart?.(pi, part, parts.length);
      const model = partModel(opts.model, part, feeds[0]!);
      const mine = edgesIn(model, part.edges.map((k) => opts.edges[k]!));
      const { observers } = opts.observe(model, mine);
      const bytes = Buffer.concat(encodeModel(model).chunks);
      const fetches = [...new Set([...handedOn(part), ...observers.map((o) => o.output)])];
      await overDevices(opts.devices, (d) => createSession(bytes, sessionOptions(opts.modelPath, opts, d)), opts.sets.length, async (session, si) => {
        const have = feeds[si]!;
        const out = await runOnSet(session, Object.fromEntries(session.inputNames.map((n) => [n, have.get(n)!])), fetches, opts.sets[si]!.key);
        const observed = edgeBatches(out, observers, mine);
        checkFinite(opts.sets[si]!.key, mine, observed);
        observed.forEach((b, k) => (perSet[si]![part.edges[k]!] = b));
        // Keep the set's own inputs (a later part may read them) and what this part hands on.
        for (const name of part.carriedIn) if (!part.carriedOut.includes(name)) have.delete(name);
        for (const name of handedOn(part)) have.set(name, out[name]!);
        opts.progress.tick(`${opts.sets[si]!.key}, part ${pi + 1}/${parts.length}`);
      });
    }
  } finally {
    opts.progress.done();
  }
  const batches: Batch[] = opts.sets.map((s, si) => ({ set: s.key, edges: perSet[si]! }));
  return { format: 'ctc-stats/1', edges: edgeKeys(opts.edges), batches };
}
