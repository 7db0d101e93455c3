/**
 * Checks the IR invariants: one definition per name, every input defined in scope, no cycle,
 * every graph output defined, and use lists that match the node inputs exactly.
 */
import { VerifyError } from '../errors.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import { subgraphsOf } from './attribute.js';
import { topologicalOrder } from './topo.js';
import type { Value } from './value.js';

export function verifyModel(model: Model, where = 'model'): void {
  verifyGraph(model.graph, new Set(), where);
}

function verifyGraph(graph: Graph, outer: ReadonlySet<Value>, where: string): void {
  const defined = new Set<Value>(outer);
  const names = new Map<string, string>();
  const define = (v: Value, what: string): void => {
    if (v.name === '') return;
    const prev = names.get(v.name);
    if (prev !== undefined && !(prev === 'graph input' && what === 'initializer')) {
      throw new VerifyError(`${where}: "${v.name}" is defined twice in graph "${graph.name}" (as ${prev} and as ${what})`);
    }
    names.set(v.name, what);
    defined.add(v);
  };
  for (const v of graph.inputs) define(v, 'graph input');
  for (const v of graph.initializers) define(v, 'initializer');
  for (const n of graph.nodes) for (const o of n.outputs) define(o, `output of ${n.op.opType} node "${n.name}"`);

  // Values available so far in node order: if every input is, the order is topological and so
  // there is no cycle (the common case, checked in one pass).
  const available = new Set<Value>([...outer, ...graph.inputs, ...graph.initializers]);
  let ordered = true;
  for (const n of graph.nodes) {
    n.inputs.forEach((v, i) => {
      if (v === undefined) return;
      if (!available.has(v)) ordered = false;
      if (!defined.has(v)) {
        throw new VerifyError(`${where}: input ${i} of ${n.op.opType} node "${n.name}" refers to "${v.name}", which nothing defines`);
      }
      if (!v._uses.some((u) => u.node === n && u.index === i)) {
        throw new VerifyError(`${where}: the use list of "${v.name}" misses ${n.op.opType} node "${n.name}" input ${i}`);
      }
    });
    for (const o of n.outputs) {
      for (const u of o._uses) {
        if (u.node.inputs[u.index] !== o) throw new VerifyError(`${where}: "${o.name}" lists a stale use by "${u.node.name}"`);
      }
    }
    for (const a of n.attributes.values()) {
      for (const g of subgraphsOf(a)) {
        verifyGraph(g, defined, where);
        ordered = false; // subgraphs may use later values of this graph: let the full check decide
      }
    }
    for (const o of n.outputs) available.add(o);
  }
  for (const v of graph.outputs) {
    if (!defined.has(v)) throw new VerifyError(`${where}: graph output "${v.name}" is not produced by any node, input or initializer`);
  }
  if (ordered) return;
  const { cycle } = topologicalOrder(graph);
  if (cycle.length > 0) {
    const names = cycle.slice(0, 4).map((n) => `${n.op.opType} "${n.name}"`).join(', ');
    throw new VerifyError(`${where}: graph "${graph.name}" has a cycle (nodes on it or after it: ${names})`);
  }
}
