/**
 * Deterministic fresh names. One authority per model (ONNX names must be unique across a graph
 * and its subgraphs); it knows every name already used, and hands out `base`, `base_1`, ... in
 * the order asked. No counter lives at module scope.
 */
import type { Graph } from './graph.js';
import { subgraphsOf } from './attribute.js';

export class NameAuthority {
  private readonly used = new Set<string>();
  /** Per base, the next suffix to try: keeps fresh() linear when a base is asked for often. */
  private readonly next = new Map<string, number>();
  /** Names are collected on first use, so that reading a model never pays for it. */
  private pending: Graph | undefined;

  static forGraph(graph: Graph): NameAuthority {
    const a = new NameAuthority();
    a.pending = graph;
    return a;
  }

  /** The same state for a copy of the model whose main graph is `graph`: both hand out the same names next. */
  copyFor(graph: Graph): NameAuthority {
    const a = new NameAuthority();
    if (this.pending !== undefined) a.pending = graph;
    for (const n of this.used) a.used.add(n);
    for (const [k, v] of this.next) a.next.set(k, v);
    return a;
  }

  private ready(): void {
    if (this.pending === undefined) return;
    const g = this.pending;
    this.pending = undefined;
    this.collect(g);
  }

  private collect(g: Graph): void {
    for (const v of [...g.inputs, ...g.initializers, ...g.outputs, ...g.valueInfo]) this.used.add(v.name);
    for (const n of g.nodes) {
      if (n.name) this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o.name);
      for (const at of n.attributes.values()) for (const s of subgraphsOf(at)) this.collect(s);
    }
  }

  has(name: string): boolean {
    this.ready();
    return this.used.has(name);
  }

  /** Reserve `base` if free, else the first free `base_N`. */
  fresh(base: string): string {
    this.ready();
    let name = base;
    let i = this.next.get(base) ?? 1;
    while (this.used.has(name)) name = `${base}_${i++}`;
    this.next.set(base, i);
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.ready();
    this.used.add(name);
  }
}
