/**
 * Helpers shared by the attention pattern files. The contract they implement
 * (AttentionPattern, SiteDraft) is defined next to the site finder that consumes it.
 */
import type { Value } from '../../ir/value.js';
import type { Node } from '../../ir/node.js';
import type { CacheIO, Edge, Layout } from '../site.js';
import { headAxisOf } from '../site.js';
import type { PatternOutcome } from '../pattern-types.js';

export type { AttentionPattern, PatternOutcome, SiteDraft } from '../pattern-types.js';

export function edge(value: Value, layout: Layout, rank = layout === 'BSE' ? 3 : 4): Edge {
  return { value, layout, headAxis: headAxisOf[layout], rank };
}

export const failed = (id: string, reason: string, depth?: number): PatternOutcome => ({ ok: false, id, reason, ...(depth !== undefined ? { depth } : {}) });

/**
 * For fused ops that concatenate the cache themselves: the cache I/O names (past inputs,
 * present outputs 1 and 2) and the past edges, which get QDQ beside the new K and V.
 */
export function insideCache(n: Node, pastK: Value | undefined, pastV: Value | undefined): { cache: CacheIO | null; pastEdges: { kPast?: Edge; vPast?: Edge } } {
  if (!pastK || !pastV) return { cache: null, pastEdges: {} };
  const present = (i: number): string | null => {
    const o = n.outputs[i];
    return o && o.name !== '' ? o.name : null;
  };
  return {
    cache: { pastKey: pastK.name, presentKey: present(1), pastValue: pastV.name, presentValue: present(2) },
    pastEdges: { kPast: edge(pastK, 'BHSD'), vPast: edge(pastV, 'BHSD') },
  };
}
