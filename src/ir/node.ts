/**
 * A Node is one operator application. Its inputs change only through `replaceInput`, which
 * keeps the use lists of the old and new values exact.
 */
import type { Attribute, AttributeValue } from './attribute.js';
import type { Graph } from './graph.js';
import type { OpId } from './op-id.js';
import { Value } from './value.js';

export class Node {
  readonly op: OpId;
  name: string;
  overload = '';
  docString = '';
  metadataProps: [string, string][] = [];
  readonly attributes: Map<string, Attribute>;
  /** The graph the node belongs to; undefined while detached. */
  graph: Graph | undefined;
  /** Opaque: the decoded NodeProto, whose unmodelled fields serde carries over. */
  source: unknown;
  private readonly _inputs: (Value | undefined)[] = [];
  private readonly _outputs: Value[] = [];

  constructor(op: OpId, inputs: readonly (Value | undefined)[], outputs: readonly Value[], attributes: readonly Attribute[] = [], name = '') {
    this.op = op;
    this.name = name;
    this.attributes = new Map(attributes.map((a) => [a.name, a]));
    inputs.forEach((v) => this.appendInput(v));
    for (const out of outputs) {
      if (out._producer !== undefined) throw new Error(`value ${out.name} already has a producer`);
      out._producer = this;
      out._outputIndex = this._outputs.length;
      this._outputs.push(out);
    }
  }

  get inputs(): readonly (Value | undefined)[] {
    return this._inputs;
  }

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  input(i: number): Value | undefined {
    return this._inputs[i];
  }

  output(i = 0): Value {
    const v = this._outputs[i];
    if (v === undefined) throw new RangeError(`${this.op.opType} node ${this.name} has no output ${i}`);
    return v;
  }

  is(op: OpId): boolean {
    return this.op.opType === op.opType && this.op.domain === op.domain;
  }

  attr(name: string): AttributeValue | undefined {
    return this.attributes.get(name)?.value;
  }

  /** An int attribute as a number, or `fallback` when absent. */
  intAttr(name: string, fallback: number): number;
  intAttr(name: string): number | undefined;
  intAttr(name: string, fallback?: number): number | undefined {
    const a = this.attr(name);
    return a?.kind === 'int' ? Number(a.value) : fallback;
  }

  intsAttr(name: string): number[] | undefined {
    const a = this.attr(name);
    return a?.kind === 'ints' ? a.value.map(Number) : undefined;
  }

  floatAttr(name: string): number | undefined {
    const a = this.attr(name);
    return a?.kind === 'float' ? a.value : undefined;
  }

  /** A string attribute decoded as UTF-8, or undefined when absent. */
  stringAttr(name: string): string | undefined {
    const a = this.attr(name);
    return a?.kind === 'string' ? new TextDecoder().decode(a.value) : undefined;
  }

  setAttribute(a: Attribute): void {
    this.attributes.set(a.name, a);
  }

  replaceInput(index: number, value: Value | undefined): void {
    const old = this._inputs[index];
    if (old === value) return;
    if (old !== undefined) {
      const k = old._uses.findIndex((u) => u.node === this && u.index === index);
      old._uses.splice(k, 1);
    }
    this._inputs[index] = value;
    if (value !== undefined) value._uses.push({ node: this, index });
  }

  appendInput(value: Value | undefined): void {
    const index = this._inputs.length;
    this._inputs.push(value);
    if (value !== undefined) value._uses.push({ node: this, index });
  }

  /**
   * @internal Give up the outputs so that a replacement node can produce the same values
   * (Graph.replaceNode); the node itself is then discarded.
   */
  _releaseOutputs(): Value[] {
    const outs = this._outputs.splice(0);
    for (const o of outs) {
      o._producer = undefined;
      o._outputIndex = undefined;
    }
    return outs;
  }

  /** Drop every input use, so the node can be discarded without leaving stale uses. */
  detachInputs(): void {
    for (let i = 0; i < this._inputs.length; i++) this.replaceInput(i, undefined);
  }

  toString(): string {
    const ins = this._inputs.map((v) => (v ? v.toString() : '""')).join(', ');
    const outs = this._outputs.map((v) => v.toString()).join(', ');
    const dom = this.op.domain ? `${this.op.domain}::` : '';
    return `${outs} = ${dom}${this.op.opType}(${ins})${this.name ? ` [${this.name}]` : ''}`;
  }
}
