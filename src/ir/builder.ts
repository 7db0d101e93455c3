/**
 * A small builder for graphs written in code: tests, generators and benchmarks use it, and the
 * rewrite uses it to make new nodes with fresh, deterministic names.
 */
import type { Attribute } from './attribute.js';
import { Graph } from './graph.js';
import { Model } from './model.js';
import { Node } from './node.js';
import { Tensor } from './tensor.js';
import type { Dim } from './types.js';
import { tensorType } from './types.js';
import { Value } from './value.js';
import type { OpId } from './op-id.js';
import type { DataType } from './dtypes.js';

export function emptyModel(opsets: Record<string, number> = { '': 17 }, irVersion = 8, graphName = 'main'): Model {
  return new Model(new Graph(graphName), irVersion, new Map(Object.entries(opsets)));
}

export class GraphBuilder {
  constructor(
    readonly model: Model,
    readonly graph: Graph = model.graph,
  ) {}

  input(name: string, elemType: DataType, shape?: readonly Dim[]): Value {
    this.model.names.reserve(name);
    return this.graph.addInput(new Value(name, tensorType(elemType, shape)));
  }

  initializer(name: string, tensor: Tensor): Value {
    const n = this.model.names.fresh(name);
    tensor.name = n;
    return this.graph.addInitializer(new Value(n), tensor);
  }

  constF32(name: string, dims: readonly number[], values: ArrayLike<number>): Value {
    return this.initializer(name, Tensor.fromFloat32(name, 1, dims, values));
  }

  constI64(name: string, dims: readonly number[], values: readonly number[]): Value {
    return this.initializer(name, Tensor.fromInt64(name, dims, values));
  }

  /** Create a node; its outputs get fresh names derived from `name`. */
  node(op: OpId, inputs: readonly (Value | undefined)[], attrs: readonly Attribute[] = [], opts: { name?: string; outputs?: number | readonly string[] } = {}): Node {
    const base = opts.name ?? op.opType;
    const nodeName = this.model.names.fresh(base);
    const outs = opts.outputs ?? 1;
    const outNames = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => `${nodeName}_output_${i}`) : outs;
    const outputs = outNames.map((n) => new Value(this.model.names.fresh(n)));
    const node = new Node(op, inputs, outputs, attrs, nodeName);
    this.graph.appendNode(node);
    return node;
  }

  /** Shorthand for a single-output node. */
  op(op: OpId, inputs: readonly (Value | undefined)[], attrs: readonly Attribute[] = [], name?: string): Value {
    return this.node(op, inputs, attrs, name === undefined ? {} : { name }).output(0);
  }

  output(value: Value, name?: string): Value {
    if (name !== undefined && value.name !== name) {
      value.name = name;
      this.model.names.reserve(name);
    }
    this.graph.outputs.push(value);
    return value;
  }
}
