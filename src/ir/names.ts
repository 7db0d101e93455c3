/**
 * Deterministic fresh names. One authority per model (ONNX names must be unique across a graph
 * and its subgraphs); it knows every name already used, and hands out `base`, `base_1`, ... in
 * the order asked. No counter lives at module scope.
 */
import type { Graph } from './graph.js';
import { subgraphsOf } from './attribute.js';

export class NameAuthority {
  private readonly used = new Set<string>();

  static forGraph(graph: Graph): NameAuthority {
    const a = new NameAuthority();
    a.collect(graph);
    return a;
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
    return this.used.has(name);
  }

  /** Reserve `base` if free, else the first free `base_N`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }
}
