/**
 * The KV cache as exporters write it outside a fused op:
 *
 *   past_key_values.N.key ─┐                            (a graph input, [B, kv_heads, P, D])
 *                          Concat(axis = -2 | 2) ──▶ present.N.key (graph output) and the attention
 *   new K (post-RoPE) ─────┘
 *
 * Variants: the past may first go through a one-input Concat (the TorchScript export of
 * transformers' DynamicCache on its first update), a Concat with an empty constant, or Identity.
 * Rejects: a Concat on any other axis (that is not a sequence append), a "past" that is not a
 * graph input (a Concat of two activations is not a cache).
 */
import type { Value } from '../../ir/value.js';
import { Op } from '../../onnx/ops.js';
import { any, constant, node, oneOf, pass } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck, ValueCheck } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';

const isGraphInput: ValueCheck = refuses('past-not-graph-input', (v) => (v.isGraphInput() && !v.isInitializer() ? undefined : `${v.name} is not a graph input`));

const sequenceAxis: NodeCheck = refuses('concat-not-sequence-axis', (n, facts) => {
  const axis = n.intAttr('axis', 0);
  const rank = facts.dims(n.output(0))?.length ?? 4;
  return axis === -2 || axis === rank - 2 ? undefined : `Concat ${n.name} joins axis ${axis}, not the sequence axis (-2) of a [B, heads, S, D] cache`;
});

const past = oneOf('pastForm', {
  input: pass(any('past', isGraphInput)),
  wrapped: node(Op.Concat, [pass(any('past', isGraphInput))], { check: sequenceAxis }),
  padded: node(Op.Concat, [pass(any('past', isGraphInput)), constant()], { check: sequenceAxis }),
});

/** The Concat, or a same-type Cast / Identity of it (GPT-J's TorchScript export casts the cache to its own type). */
export const kvCacheConcat = pass(node(Op.Concat, [past, any('new')], { capture: 'cache', check: sequenceAxis }));

export interface CacheMatch {
  /** The Concat output: the whole cache, past and new, where K/V QDQ goes. */
  readonly value: Value;
  readonly past: Value;
  readonly present: string | null;
}

/** The graph output that carries the cache: the Concat output itself, or through Identity. */
function presentName(v: Value): string | null {
  if (v.isGraphOutput()) return v.name;
  for (const u of v.uses()) {
    if (u.node.is(Op.Identity) && u.node.output(0).isGraphOutput()) return u.node.output(0).name;
  }
  return null;
}

export function matchCache(v: Value, facts: ShapeFacts): CacheMatch | undefined {
  const r = matchPattern(kvCacheConcat, v, facts);
  if (!r.ok) return undefined;
  return { value: v, past: r.bindings.values.get('past')!, present: presentName(v) };
}
