/**
 * The contract of an attention pattern (src/attention/patterns/*.ts): the ops it anchors at, and a
 * match function that returns a draft site (edges, heads it can read from attributes, cache)
 * or the reason it does not apply. Heads it cannot read are filled in from static shapes by the
 * site finder.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import type { OpId } from '../onnx/ops.js';
import type { ShapeFacts } from '../shapes/static-shapes.js';
import type { CacheIO, Edge } from './site.js';

export interface SiteDraft {
  readonly q: Edge | undefined;
  readonly k: Edge;
  readonly v: Edge;
  readonly kPast?: Edge;
  readonly vPast?: Edge;
  readonly cache: CacheIO | null;
  readonly variant: Record<string, string>;
  /** Heads known from attributes or from the GQA repeat, when the pattern has them. */
  readonly numHeads?: number;
  readonly numKvHeads?: number;
  readonly headDim?: number;
  /** The grouped-query repeat factor, when the graph states it. */
  readonly repeatFactor?: number;
  /** Values whose dims also tell the query heads (e.g. K after the grouped-query repeat). */
  readonly queryHeadHints?: readonly Edge[];
  /** Nodes internal to the block: their outputs must not be used outside it. */
  readonly internal: readonly Node[];
  readonly output: Value;
}

/** A refusal has a stable `id` (for tests and tools) and a `reason` (for people: it names the node). */
export type PatternOutcome =
  | { readonly ok: true; readonly site: SiteDraft }
  /** depth: how far into the block matching got (see src/pattern/match.ts); the site finder reports the furthest. */
  | { readonly ok: false; readonly id: string; readonly reason: string; readonly depth?: number };

export interface AttentionPattern {
  readonly name: string;
  readonly anchors: readonly OpId[];
  match(anchor: Node, facts: ShapeFacts): PatternOutcome;
}
