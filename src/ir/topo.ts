/**
 * Stable topological sort: among the nodes whose inputs are ready, the one earliest in the
 * current order goes first, so an already sorted graph keeps its order exactly.
 * O((nodes + uses) log nodes).
 */
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Value } from './value.js';
import { subgraphsOf } from './attribute.js';

/** Values a node depends on, including outer-scope values used inside its subgraphs. */
export function nodeDependencies(node: Node): Value[] {
  const deps: Value[] = [];
  for (const v of node.inputs) if (v) deps.push(v);
  for (const a of node.attributes.values()) {
    for (const g of subgraphsOf(a)) for (const n of g.allNodes()) for (const v of n.inputs) if (v) deps.push(v);
  }
  return deps;
}

class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/**
 * The stable topological order of a graph's nodes, or the nodes left on a cycle.
 */
export function topologicalOrder(graph: Graph): { order: Node[]; cycle: Node[] } {
  const nodes = graph.nodes;
  const index = new Map<Node, number>();
  nodes.forEach((n, i) => index.set(n, i));
  const pending = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const seen = new Set<Node>();
    // A node that reads its own output is a cycle of one: it is never ready.
    if (n.inputs.some((v) => v !== undefined && v.producer() === n)) pending[i]!++;
    for (const v of nodeDependencies(n)) {
      const p = producerIn(v, graph, index);
      // p === n: a value made inside the node's own subgraph, not a dependency.
      if (p !== undefined && p !== n && !seen.has(p)) {
        seen.add(p);
        pending[i]!++;
        dependents[index.get(p)!]!.push(i);
      }
    }
  });
  const heap = new MinHeap();
  pending.forEach((c, i) => c === 0 && heap.push(i));
  const order: Node[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--pending[d]! === 0) heap.push(d);
  }
  const cycle = order.length === nodes.length ? [] : nodes.filter((_, i) => pending[i]! > 0);
  return { order, cycle };
}

/** The node of `graph` that (directly or through a subgraph it owns) produces `v`. */
function producerIn(v: Value, graph: Graph, index: Map<Node, number>): Node | undefined {
  let p = v.producer();
  while (p !== undefined) {
    if (index.has(p)) return p;
    // a value produced inside a subgraph of a node of this graph: depend on that node
    const owner: Graph | undefined = p.graph;
    if (owner === undefined || owner === graph) return undefined;
    p = ownerNode(owner);
  }
  return undefined;
}

function ownerNode(g: Graph): Node | undefined {
  const parent = g.parent;
  if (parent === undefined) return undefined;
  for (const n of parent.nodes) for (const a of n.attributes.values()) if (subgraphsOf(a).includes(g)) return n;
  return undefined;
}

/** Sort the graph (and its subgraphs) in place; returns whether any order changed. */
export function sortGraph(graph: Graph): boolean {
  let modified = false;
  for (const n of graph.nodes) for (const a of n.attributes.values()) for (const g of subgraphsOf(a)) modified = sortGraph(g) || modified;
  const { order, cycle } = topologicalOrder(graph);
  if (cycle.length > 0) throw new Error(`graph ${graph.name} has a cycle through ${cycle.slice(0, 3).map((n) => n.name || n.op.opType).join(', ')}`);
  if (order.some((n, i) => n !== graph.nodes[i])) {
    graph.reorder(order);
    modified = true;
  }
  return modified;
}
