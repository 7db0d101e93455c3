/**
 * Cutting a decoder into parts at layer boundaries, for calibration of models larger than the
 * device: each part runs over every calibration set with only its own weights loaded, and hands
 * the activations that cross the cut to the next part.
 *
 *   nodes in topological order:  [ embed · layer 0 ]|[ layer 1 ]|[ layer 2 ] … |[ layer N-1 · head ]
 *                                                    ▲ cut: the point between the last observed tensor of
 *                                                      layer L-1 and the first of layer L where the fewest
 *                                                      activations are alive (the residual stream, plus
 *                                                      whatever every layer reads: mask, rotary tables)
 *
 * The layers come from the sites (each quantized edge knows its layer and its tensors), not from
 * node names. Where the budget allows, consecutive layers share a part.
 */
import { CtcError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import { nodeDependencies } from '../ir/topo.js';
import type { Value } from '../ir/value.js';
import { dataTypeInfo } from '../ir/dtypes.js';
import type { QuantEdge } from '../quant/edges.js';

export interface Part {
  /** Node positions [start, end) in the graph's (topological) node order. */
  readonly start: number;
  readonly end: number;
  /** Indices of the edges observed in this part. */
  readonly edges: number[];
  /** Activations produced before `start` that this part or a later one reads. */
  readonly carriedIn: string[];
  /** Activations produced before `end` that a later part reads. */
  readonly carriedOut: string[];
  /** Bytes of the initializers the part's nodes read. */
  readonly weightBytes: number;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function tensorBytes(t: Tensor): number {
  const s = t.storage;
  if (s.kind === 'external') return s.length;
  if (s.kind === 'raw') return s.bytes.length;
  return Math.ceil((t.size * dataTypeInfo(t.dataType).bits) / 8);
}

/** An activation: produced by a node of the graph (not an input, not an initializer). */
function producedHere(v: Value, graph: Graph): boolean {
  const p = v.producer();
  return p !== undefined && p.graph === graph;
}

/**
 * Parts of at most `budgetBytes` of weights each (undefined: one layer per part). The graph's
 * node order must be topological. Throws when a single layer's part exceeds the budget.
 */
export function partitionByLayers(graph: Graph, edges: readonly QuantEdge[], budgetBytes?: number): Part[] {
  const nodes = graph.nodes;
  const position = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const at = (v: Value): number => (producedHere(v, graph) ? position.get(v.producer()!)! : -1);

  // Liveness: value produced at i and last read at j is alive at every cut p with i < p <= j.
  const lastUse = new Map<Value, number>();
  nodes.forEach((n, i) => {
    for (const v of nodeDependencies(n)) if (producedHere(v, graph)) lastUse.set(v, i);
  });
  const alive = new Int32Array(nodes.length + 1);
  for (const [v, j] of lastUse) {
    alive[at(v) + 1]! += 1;
    alive[j + 1]! -= 1;
  }
  for (let p = 1; p <= nodes.length; p++) alive[p]! += alive[p - 1]!;

  // Layers in order, each with the span of its observed tensors.
  const layers = [...new Set(edges.map((e) => e.layer))].sort((a, b) => a - b);
  const span = layers.map((l) => {
    const where = edges.filter((e) => e.layer === l).flatMap((e) => e.tensors.map((t) => at(t.value)));
    return { layer: l, first: Math.min(...where.filter((w) => w >= 0), nodes.length), last: Math.max(...where) };
  });
  const cuts: number[] = [];
  for (let i = 1; i < span.length; i++) {
    const lo = span[i - 1]!.last + 1;
    const hi = span[i]!.first;
    if (lo > hi) throw new CtcError(`layers ${span[i - 1]!.layer} and ${span[i]!.layer} interleave in the node order: they cannot be calibrated apart`);
    let best = hi;
    for (let p = hi; p >= lo; p--) if (alive[p]! < alive[best]!) best = p;
    cuts.push(best);
  }

  // Segments of one layer each, then merged greedily under the budget.
  const bounds = [0, ...cuts, nodes.length];
  const weightsOf = (start: number, end: number): number => {
    const seen = new Set<Value>();
    let bytes = 0;
    for (let i = start; i < end; i++) {
      for (const v of nodeDependencies(nodes[i]!)) {
        if (v.initializer === undefined || seen.has(v)) continue;
        seen.add(v);
        bytes += tensorBytes(v.initializer);
      }
    }
    return bytes;
  };
  const ranges: [number, number][] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const seg: [number, number] = [bounds[i]!, bounds[i + 1]!];
    const last = ranges.at(-1);
    if (budgetBytes !== undefined && last && weightsOf(last[0], seg[1]) <= budgetBytes) last[1] = seg[1];
    else ranges.push(seg);
  }
  if (budgetBytes === undefined && ranges.length !== layers.length) throw new Error('internal: one part per layer expected');

  const edgePart = (e: QuantEdge): number => {
    const where = Math.max(...e.tensors.map((t) => at(t.value)));
    const p = ranges.findIndex(([s, end]) => where >= s && where < end);
    return p < 0 ? 0 : p;
  };
  const carried = (p: number): string[] =>
    [...lastUse].filter(([v, j]) => at(v) < p && j >= p).map(([v]) => v.name).sort();
  return ranges.map(([start, end], i) => {
    const weightBytes = weightsOf(start, end);
    if (budgetBytes !== undefined && weightBytes > budgetBytes) {
      throw new CtcError(
        `nodes ${start}..${end - 1} (one decoder layer's part) hold ${mib(weightBytes)} of weights, more than --max-device-memory allows (${mib(budgetBytes)}); raise it to at least ${mib(weightBytes)}`,
      );
    }
    return {
      start,
      end,
      edges: edges.map((e, k) => [e, k] as const).filter(([e]) => edgePart(e) === i).map(([, k]) => k),
      carriedIn: carried(start),
      carriedOut: carried(end),
      weightBytes,
    };
  });
}
