/**
 * An attention site: one attention block, with the edges where Q, K and V are quantized, their
 * layouts and head axes, the heads, and the KV cache's graph inputs and outputs.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

/**
 * BHSD: [batch, heads, seq, head_dim] (head axis 1). BSHD: [batch, seq, heads, head_dim] (head
 * axis 2). BSE: packed [batch, seq, heads*head_dim] (axis 2; a per-head scale is repeated
 * head_dim times).
 */
export type Layout = 'BHSD' | 'BSHD' | 'BSE';

export const headAxisOf: Record<Layout, number> = { BHSD: 1, BSHD: 2, BSE: 2 };

export interface Edge {
  readonly value: Value;
  readonly layout: Layout;
  readonly headAxis: number;
  readonly rank: number;
}

/** For ops that concatenate the cache inside (ONNX Attention with past, MHA, GQA): K/V come in two parts. */
export interface SiteEdges {
  readonly q: Edge | undefined;
  readonly k: Edge;
  readonly v: Edge;
  readonly kPast?: Edge;
  readonly vPast?: Edge;
}

export interface CacheIO {
  readonly pastKey: string;
  readonly presentKey: string | null;
  readonly pastValue: string;
  readonly presentValue: string | null;
}

export interface Site extends SiteEdges {
  readonly name: string;
  readonly layer: number;
  readonly pattern: string;
  /** Which alternative each tagged choice of the pattern took. */
  readonly variant: Readonly<Record<string, string>>;
  readonly kind: 'self' | 'cross';
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly cache: CacheIO | null;
  /** The node the site was anchored at (the P·V MatMul or the fused attention op). */
  readonly anchor: Node;
}

export interface EdgeJson {
  readonly tensor: string;
  readonly layout: Layout;
  readonly headAxis: number;
  readonly past?: { readonly tensor: string; readonly layout: Layout; readonly headAxis: number };
}

export interface SiteJson {
  readonly name: string;
  readonly layer: number;
  readonly pattern: string;
  readonly variant: Readonly<Record<string, string>>;
  readonly kind: 'self' | 'cross';
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly q: EdgeJson | null;
  readonly k: EdgeJson;
  readonly v: EdgeJson;
  readonly cache: CacheIO | null;
}

const edgeJson = (e: Edge, past?: Edge): EdgeJson => ({
  tensor: e.value.name,
  layout: e.layout,
  headAxis: e.headAxis,
  ...(past ? { past: { tensor: past.value.name, layout: past.layout, headAxis: past.headAxis } } : {}),
});

export function siteToJson(s: Site): SiteJson {
  return {
    name: s.name,
    layer: s.layer,
    pattern: s.pattern,
    variant: Object.fromEntries(Object.entries(s.variant).sort(([a], [b]) => a.localeCompare(b))),
    kind: s.kind,
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    headDim: s.headDim,
    q: s.q ? edgeJson(s.q) : null,
    k: edgeJson(s.k, s.kPast),
    v: edgeJson(s.v, s.vPast),
    cache: s.cache,
  };
}
