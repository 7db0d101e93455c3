/**
 * Structural copies: new Graph, Node and Value objects with the same names, order, attributes
 * and use-def lists (uses in the same order), so that a pass may rewrite the copy while the
 * original stays as it was. Nothing heavy is copied:
 *
 *   original ── graphs, nodes, values, attributes holding graphs ──▶ new objects
 *            ── tensor storage (file views, external ranges) ───────▶ shared, never copied
 *            ── opaque `source` messages, types, scalar attributes ─▶ shared (never mutated)
 *
 * Sharing `source` is what makes an unchanged copy encode byte for byte as the original.
 * A copier remembers which copy belongs to which original (valueOf, nodeOf), so facts found on
 * the original (sites, edges) can be carried over to the copy without a second search.
 */
import type { Attribute, AttributeValue } from './attribute.js';
import { Graph } from './graph.js';
import { Node } from './node.js';
import type { Tensor } from './tensor.js';
import { Value } from './value.js';

const pairs = (ps: readonly [string, string][]): [string, string][] => ps.map(([k, v]) => [k, v]);

export class GraphCopier {
  private readonly values = new Map<Value, Value>();
  private readonly nodes = new Map<Node, Node>();
  private readonly graphs = new Map<Graph, Graph>();

  /** The copy of a value of a copied graph. */
  valueOf(v: Value): Value {
    const c = this.values.get(v);
    if (c === undefined) throw new Error(`value ${v.name} is not part of the copied graphs`);
    return c;
  }

  /** The copy of a node of a copied graph. */
  nodeOf(n: Node): Node {
    const c = this.nodes.get(n);
    if (c === undefined) throw new Error(`${n.op.opType} node ${n.name} is not part of the copied graphs`);
    return c;
  }

  /** Copy a top-level graph (a main graph or a function body) and everything inside it. */
  copy(g: Graph): Graph {
    const c = this.graph(g, undefined);
    this.finish();
    return c;
  }

  private graph(g: Graph, parent: Graph | undefined): Graph {
    const c = new Graph(g.name, parent);
    c.docString = g.docString;
    c.metadataProps = pairs(g.metadataProps);
    c.source = g.source;
    this.graphs.set(g, c);
    for (const v of g.inputs) c.addInput(this.value(v));
    // IR < 4: an initializer may also be an input; value() returns the same copy for both.
    for (const v of g.initializers) c.addInitializer(this.value(v), v.initializer!.clone());
    // Every output first: a node (or a subgraph) may use a value produced later in an unsorted graph.
    for (const n of g.nodes) for (const o of n.outputs) this.value(o);
    for (const n of g.nodes) {
      const inputs = n.inputs.map((v) => (v === undefined ? undefined : this.value(v)));
      const attrs = [...n.attributes.values()].map((a) => this.attribute(a, c));
      const copy = new Node(
        n.op,
        inputs,
        n.outputs.map((o) => this.value(o)),
        attrs,
        n.name,
      );
      copy.overload = n.overload;
      copy.docString = n.docString;
      copy.metadataProps = pairs(n.metadataProps);
      copy.source = n.source;
      this.nodes.set(n, copy);
      c.appendNode(copy);
    }
    for (const v of g.outputs) c.outputs.push(this.value(v));
    for (const v of g.valueInfo) c.valueInfo.push(this.value(v));
    return c;
  }

  /** Scalar attributes are immutable and shared; graphs and tensors inside get copies. */
  private attribute(a: Attribute, owner: Graph): Attribute {
    const v = a.value;
    let value: AttributeValue;
    switch (v.kind) {
      case 'graph':
        value = { kind: 'graph', value: this.graph(v.value, owner) };
        break;
      case 'graphs':
        value = { kind: 'graphs', value: v.value.map((g) => this.graph(g, owner)) };
        break;
      case 'tensor':
        value = { kind: 'tensor', value: v.value.clone() };
        break;
      case 'tensors':
        value = { kind: 'tensors', value: v.value.map((t: Tensor) => t.clone()) };
        break;
      default:
        return a;
    }
    return a.source === undefined ? { name: a.name, value } : { name: a.name, value, source: a.source };
  }

  /** The copy of `v`, made on first sight (unbound names of function bodies included). */
  private value(v: Value): Value {
    let c = this.values.get(v);
    if (c === undefined) {
      c = new Value(v.name, v.type);
      c.docString = v.docString;
      c.metadataProps = pairs(v.metadataProps);
      c.source = v.source;
      this.values.set(v, c);
    }
    return c;
  }

  /** Scopes and use order as in the original (node construction order may differ from use order). */
  private finish(): void {
    for (const [v, c] of this.values) {
      c.graph = v.graph === undefined ? undefined : this.graphs.get(v.graph);
      const uses = v._uses.map((u) => ({ node: this.nodes.get(u.node), index: u.index }));
      if (uses.every((u) => u.node !== undefined) && uses.length === c._uses.length) {
        // Replaced element by element: a value may have 100,000s of uses, too many to spread.
        c._uses.length = 0;
        for (const u of uses) c._uses.push({ node: u.node!, index: u.index });
      }
    }
  }
}
