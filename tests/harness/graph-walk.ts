/** Walks over IR graphs for structural assertions (which objects a graph reaches). */
import type { Graph } from '../../src/ir/graph.js';
import type { Value } from '../../src/ir/value.js';

/** Every Value object a graph reaches (inputs, initializers, outputs, value_info, node inputs and outputs), subgraphs included. */
export function valuesOf(g: Graph, into = new Set<Value>()): Set<Value> {
  for (const v of [...g.inputs, ...g.initializers, ...g.outputs, ...g.valueInfo]) into.add(v);
  for (const n of g.nodes) {
    for (const v of [...n.inputs, ...n.outputs]) if (v !== undefined) into.add(v);
    for (const a of n.attributes.values()) {
      if (a.value.kind === 'graph') valuesOf(a.value.value, into);
      if (a.value.kind === 'graphs') for (const s of a.value.value) valuesOf(s, into);
    }
  }
  return into;
}
