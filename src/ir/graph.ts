/**
 * A Graph owns an ordered node list, its inputs, outputs and initializers. Subgraphs (bodies of
 * If/Loop/Scan) have a `parent`: their nodes may use values of enclosing graphs.
 */
import type { Attribute } from './attribute.js';
import { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { OpId } from './op-id.js';
import { subgraphsOf } from './attribute.js';
import { Value } from './value.js';

export class Graph {
  name: string;
  docString = '';
  metadataProps: [string, string][] = [];
  readonly parent: Graph | undefined;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  /** Initializers in file order. */
  readonly initializers: Value[] = [];
  /** Values that carry a value_info entry, in file order. */
  readonly valueInfo: Value[] = [];
  /** Opaque: the decoded GraphProto, whose unmodelled fields serde carries over. */
  source: unknown;
  private readonly _nodes: Node[] = [];

  constructor(name: string, parent?: Graph) {
    this.name = name;
    this.parent = parent;
  }

  get nodes(): readonly Node[] {
    return this._nodes;
  }

  appendNode(node: Node): Node {
    this.adopt(node);
    this._nodes.push(node);
    return node;
  }

  /** Insert nodes right after `anchor` (or at the start when anchor is undefined). */
  insertAfter(anchor: Node | undefined, nodes: readonly Node[]): void {
    const at = anchor === undefined ? 0 : this.indexOf(anchor) + 1;
    for (const n of nodes) this.adopt(n);
    this.spliceIn(at, nodes);
  }

  insertBefore(anchor: Node, nodes: readonly Node[]): void {
    const at = this.indexOf(anchor);
    for (const n of nodes) this.adopt(n);
    this.spliceIn(at, nodes);
  }

  /** Insert at `at` without spreading `nodes` into arguments (a spread of 100,000s overflows the stack). */
  private spliceIn(at: number, nodes: readonly Node[]): void {
    const tail = this._nodes.splice(at);
    for (const n of nodes) this._nodes.push(n);
    for (const n of tail) this._nodes.push(n);
  }

  /** Remove a node whose outputs are no longer used (nor graph outputs). */
  removeNode(node: Node): void {
    for (const out of node.outputs) {
      if (out._uses.length > 0 || this.outputs.includes(out)) {
        throw new Error(`cannot remove ${node.op.opType} node ${node.name}: its output ${out.name} is still used`);
      }
    }
    const i = this.indexOf(node);
    node.detachInputs();
    this._nodes.splice(i, 1);
    node.graph = undefined;
  }

  /**
   * Replace `old` by a node of another operator in the same place, producing the same output
   * values (same names, same uses, graph outputs untouched) and keeping its doc string and
   * metadata. Returns the new node.
   */
  replaceNode(old: Node, op: OpId, inputs: readonly (Value | undefined)[], attributes: readonly Attribute[], name = old.name): Node {
    const i = this.indexOf(old);
    const ins = [...inputs]; // may be old.inputs itself, which detaching clears
    old.detachInputs();
    const node = new Node(op, ins, old._releaseOutputs(), attributes, name);
    node.docString = old.docString;
    node.metadataProps = old.metadataProps;
    old.graph = undefined;
    this.adopt(node);
    this._nodes.splice(i, 1, node);
    return node;
  }

  /** Replace the node order with a permutation of the same nodes (used by topological sort). */
  reorder(order: readonly Node[]): void {
    if (order.length !== this._nodes.length) throw new Error('reorder needs every node exactly once');
    const set = new Set(this._nodes);
    for (const n of order) if (!set.delete(n)) throw new Error('reorder got a node not in the graph');
    this._nodes.length = 0;
    for (const n of order) this._nodes.push(n);
  }

  addInitializer(value: Value, tensor: Tensor): Value {
    value.initializer = tensor;
    value.graph = this;
    this.initializers.push(value);
    return value;
  }

  addInput(value: Value): Value {
    value.graph = this;
    this.inputs.push(value);
    return value;
  }

  /** Remove a graph input nothing reads any more. */
  removeInput(value: Value): void {
    this.removeUnused(this.inputs, value, 'input');
  }

  /** Remove an initializer nothing reads any more. */
  removeInitializer(value: Value): void {
    this.removeUnused(this.initializers, value, 'initializer');
  }

  private removeUnused(list: Value[], value: Value, what: string): void {
    const i = list.indexOf(value);
    if (i < 0) throw new Error(`${value.name} is not a graph ${what} of ${this.name}`);
    if (value._uses.length > 0 || this.outputs.includes(value)) throw new Error(`cannot remove graph ${what} ${value.name}: it is still used`);
    list.splice(i, 1);
  }

  /** Graph outputs are a list of values; replacing one keeps its position. */
  setOutput(index: number, value: Value): void {
    this.outputs[index] = value;
  }

  /** Every node of this graph and of its subgraphs, depth first. */
  *allNodes(): Generator<Node> {
    for (const n of this._nodes) {
      yield n;
      for (const a of n.attributes.values()) for (const g of subgraphsOf(a)) yield* g.allNodes();
    }
  }

  indexOf(node: Node): number {
    const i = this._nodes.indexOf(node);
    if (i < 0) throw new Error(`${node.op.opType} node ${node.name} is not in graph ${this.name}`);
    return i;
  }

  private adopt(node: Node): void {
    if (node.graph !== undefined && node.graph !== this) throw new Error(`node ${node.name} already belongs to graph ${node.graph.name}`);
    node.graph = this;
    for (const out of node.outputs) out.graph = this;
  }
}
