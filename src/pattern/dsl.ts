/**
 * The pattern DSL: data-flow shapes written as data.
 *
 * A pattern describes how a value is produced, read backwards from the value:
 *
 *   node(Op.Softmax, [any('scores')], { check: lastAxis })      a Softmax of anything
 *   oneOf('scale', { mul: node(Op.Mul, [x, constant()], { commute: true }), none: x })
 *   skip([Op.Cast], x)                                            zero or more float-to-float Casts, then x
 *   pass(x)                                                       Identity / same-type Cast are transparent
 *   same('k')                                                     the value captured as 'k' again
 *
 * Alternatives are tagged: a match records which alternative each `oneOf` took, so callers (and
 * `ctc inspect`) know the variant. Commutation is opt-in per node. Matching never mutates the
 * graph; a failure is a value with a stable id, a reason and the node or value where matching
 * stopped.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { OpId } from '../onnx/ops.js';
import type { ShapeFacts } from '../shapes/static-shapes.js';

/**
 * A check returns undefined when satisfied, else the reason it is not (a sentence naming the
 * node). `refuses(id, check)` gives it a stable id, which a failed match reports beside the
 * sentence: tests and tools compare ids, people read reasons.
 */
export type NodeCheck = ((node: Node, facts: ShapeFacts) => string | undefined) & { readonly id?: string };
export type ValueCheck = ((value: Value, facts: ShapeFacts) => string | undefined) & { readonly id?: string };

export function refuses<C extends NodeCheck | ValueCheck>(id: string, check: C): C {
  return Object.assign(check, { id });
}

export type Pattern =
  | { readonly kind: 'any'; readonly capture?: string; readonly check?: ValueCheck }
  | {
      readonly kind: 'node';
      readonly ops: readonly OpId[];
      readonly inputs: readonly Pattern[];
      readonly capture?: string;
      /** Which output of the node the value must be (default 0). */
      readonly output?: number;
      /** Try the two inputs of a binary op in both orders. */
      readonly commute?: boolean;
      /** Extra inputs beyond those listed are allowed (and ignored). */
      readonly extraInputs?: boolean;
      /** Checks run in order; the first that refuses gives the failure's id and reason. */
      readonly check?: NodeCheck | readonly NodeCheck[];
    }
  | { readonly kind: 'oneOf'; readonly tag: string; readonly alternatives: readonly (readonly [string, Pattern])[] }
  | { readonly kind: 'const'; readonly capture?: string; readonly check?: ValueCheck }
  | { readonly kind: 'skip'; readonly ops: readonly OpId[]; readonly inner: Pattern; readonly max: number }
  | { readonly kind: 'pass'; readonly inner: Pattern }
  | { readonly kind: 'same'; readonly capture: string };

export interface NodeOptions {
  readonly capture?: string;
  readonly output?: number;
  readonly commute?: boolean;
  readonly extraInputs?: boolean;
  readonly check?: NodeCheck | readonly NodeCheck[];
}

export const any = (capture?: string, check?: ValueCheck): Pattern => ({ kind: 'any', ...(capture ? { capture } : {}), ...(check ? { check } : {}) });

export function node(op: OpId | readonly OpId[], inputs: readonly Pattern[], opts: NodeOptions = {}): Pattern {
  return { kind: 'node', ops: Array.isArray(op) ? op : [op as OpId], inputs, ...opts };
}

/** Tagged alternatives, tried in the order written; the first that matches is taken. */
export function oneOf(tag: string, alternatives: Record<string, Pattern>): Pattern {
  return { kind: 'oneOf', tag, alternatives: Object.entries(alternatives) };
}

/** `wrap(inner)` or just `inner`, tagged `present` / `absent`. */
export function optional(tag: string, wrap: (inner: Pattern) => Pattern, inner: Pattern): Pattern {
  return oneOf(tag, { present: wrap(inner), absent: inner });
}

export const constant = (capture?: string, check?: ValueCheck): Pattern => ({ kind: 'const', ...(capture ? { capture } : {}), ...(check ? { check } : {}) });

/** Zero to `max` single-input nodes of the given ops (through input 0), then `inner`. Casts are skipped only from float to float. */
export const skip = (ops: readonly OpId[], inner: Pattern, max = 4): Pattern => ({ kind: 'skip', ops, inner, max });

/** Identity and Cast-to-its-own-type nodes are transparent. */
export const pass = (inner: Pattern): Pattern => ({ kind: 'pass', inner });

export const same = (capture: string): Pattern => ({ kind: 'same', capture });
