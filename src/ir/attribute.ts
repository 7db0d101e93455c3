/**
 * Node attributes as a discriminated union over AttributeProto.AttributeType. Graph-valued
 * attributes (If/Loop/Scan bodies) hold IR graphs; sparse tensors and type protos are carried
 * opaquely.
 */
import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';

export type AttributeValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'string'; readonly value: Uint8Array }
  | { readonly kind: 'tensor'; readonly value: Tensor }
  | { readonly kind: 'graph'; readonly value: Graph }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly bigint[] }
  | { readonly kind: 'strings'; readonly value: readonly Uint8Array[] }
  | { readonly kind: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly kind: 'graphs'; readonly value: readonly Graph[] }
  | { readonly kind: 'opaque'; readonly value: unknown };

export interface Attribute {
  readonly name: string;
  readonly value: AttributeValue;
  /** Opaque: the decoded AttributeProto, reused when the attribute is unchanged. */
  readonly source?: unknown;
}

export function intAttr(name: string, value: number | bigint): Attribute {
  return { name, value: { kind: 'int', value: BigInt(value) } };
}

export function intsAttr(name: string, value: readonly (number | bigint)[]): Attribute {
  return { name, value: { kind: 'ints', value: value.map((v) => BigInt(v)) } };
}

export function floatAttr(name: string, value: number): Attribute {
  return { name, value: { kind: 'float', value } };
}

export function floatsAttr(name: string, value: readonly number[]): Attribute {
  return { name, value: { kind: 'floats', value } };
}

export function stringAttr(name: string, value: string): Attribute {
  return { name, value: { kind: 'string', value: new TextEncoder().encode(value) } };
}

export function tensorAttr(name: string, value: Tensor): Attribute {
  return { name, value: { kind: 'tensor', value } };
}

/** Subgraphs held by an attribute, if any. */
export function subgraphsOf(a: Attribute): readonly Graph[] {
  if (a.value.kind === 'graph') return [a.value.value];
  if (a.value.kind === 'graphs') return a.value.value;
  return [];
}
