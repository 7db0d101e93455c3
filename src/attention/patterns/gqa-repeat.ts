/**
 * The grouped-query repeat between the cache and the attention (transformers' `repeat_kv`,
 * onnxscript's `_attention_repeat_kv_for_group_query`, the ONNX Attention function body):
 *
 *   X [B, kv_heads, T, D] ─ Unsqueeze(axes=[2] or [−3]) ─ Expand([B, kv_heads, n_rep, T, D]) ─ Reshape([B, heads, T, D])
 *                                                                                  └ or merged into the next Reshape
 *
 * K and V are quantized on X, before the repeat (compressed-tensors quantizes at the cache
 * write, where the tensor has kv_heads heads). Rejects an Unsqueeze on another axis.
 */
import type { Value } from '../../ir/value.js';
import { Op } from '../../onnx/ops.js';
import { any, node, oneOf } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';

/** Axis 2 of the rank-5 result, written 2 or −3 (a [B, kv_heads, T, D] input gives rank 5). */
const unsqueezeAxis2: NodeCheck = refuses('unsqueeze-axis-not-2', (n, facts) => {
  const axes = facts.constInts(n.inputs[1]) ?? n.intsAttr('axes');
  const rank = (facts.dims(n.inputs[0])?.length ?? 4) + 1;
  const axis = axes?.length === 1 ? (axes[0]! < 0 ? axes[0]! + rank : axes[0]) : undefined;
  return axis === 2 ? undefined : `Unsqueeze ${n.name} is on axes [${axes}], not on axis 2 of [B, kv_heads, n_rep, T, D]`;
});

/** The repeat itself (its refusals have ids); `groupedQueryRepeat` also accepts no repeat at all. */
const expanded = node(Op.Expand, [node(Op.Unsqueeze, [any('kv')], { check: unsqueezeAxis2, extraInputs: true }), any('expandShape')]);

export const repeatKv = node(Op.Reshape, [expanded, any()]);

/**
 * `expanded`: the repeat without its Reshape, when the exporter merged that Reshape with the
 * one after it (the dynamo exporter's 3-D transpose of K reshapes the Expand output straight to
 * [B·heads, T, D]).
 */
export const groupedQueryRepeat = oneOf('groupedQueryRepeat', { repeat: repeatKv, expanded, none: any('kv') });

export interface RepeatMatch {
  /** The value before the repeat. */
  readonly source: Value;
  readonly repeated: boolean;
  /** The repeat factor, when the Expand shape says it. */
  readonly factor: number | undefined;
}

export function stripRepeat(v: Value, facts: ShapeFacts): RepeatMatch {
  const r = matchPattern(groupedQueryRepeat, v, facts);
  if (!r.ok) return { source: v, repeated: false, factor: undefined };
  const repeated = r.bindings.tags.get('groupedQueryRepeat') !== 'none';
  const shape = repeated ? facts.shapeEntries(r.bindings.values.get('expandShape')) : undefined;
  const e = shape?.[2];
  return { source: r.bindings.values.get('kv')!, repeated, factor: e?.kind === 'const' ? e.n : undefined };
}
