/**
 * A Value is an edge of the graph: produced by at most one node (or a graph input or an
 * initializer) and used by any number of node inputs and graph outputs.
 *
 * Invariant: `uses()` lists exactly the (node, input index) pairs whose input is this value.
 * Only Node and Graph methods change it; nothing outside this folder touches `_uses`.
 */
import type { Node } from './node.js';
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';
import type { ValueType } from './types.js';

export interface Use {
  readonly node: Node;
  readonly index: number;
}

export class Value {
  name: string;
  type: ValueType | undefined;
  /** The graph whose scope defines this value (where its producer, input or initializer is). */
  graph: Graph | undefined;
  /** Set when the value is an initializer (a constant the graph carries). */
  initializer: Tensor | undefined;
  /** Doc string and metadata of its value_info entry, kept for a lossless round trip. */
  docString = '';
  metadataProps: [string, string][] = [];
  /** Opaque: what serde needs to re-encode an unchanged value_info byte for byte. */
  source: unknown;

  /** @internal maintained by Node */
  _producer: Node | undefined;
  /** @internal maintained by Node */
  _outputIndex: number | undefined;
  /** @internal maintained by Node */
  readonly _uses: Use[] = [];

  constructor(name: string, type?: ValueType) {
    this.name = name;
    this.type = type;
  }

  producer(): Node | undefined {
    return this._producer;
  }

  outputIndex(): number | undefined {
    return this._outputIndex;
  }

  /** A copy, so that callers may rewire while iterating. */
  uses(): readonly Use[] {
    return this._uses.slice();
  }

  /** Distinct consuming nodes, in use order. */
  consumers(): Node[] {
    const seen = new Set<Node>();
    for (const u of this._uses) seen.add(u.node);
    return [...seen];
  }

  isGraphInput(): boolean {
    return this.graph !== undefined && this.graph.inputs.includes(this);
  }

  isGraphOutput(): boolean {
    return this.graph !== undefined && this.graph.outputs.includes(this);
  }

  isInitializer(): boolean {
    return this.initializer !== undefined;
  }

  /** Redirect every node use of this value to `other` (graph outputs are left alone). */
  replaceAllUsesWith(other: Value, options: { except?: ReadonlySet<Node> } = {}): void {
    for (const { node, index } of this.uses()) {
      if (options.except?.has(node)) continue;
      node.replaceInput(index, other);
    }
  }

  toString(): string {
    return `%${this.name}`;
  }
}
