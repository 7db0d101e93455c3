/**
 * The ONNX FlexAttention operator (domain ai.onnx.preview): attention with score_mod /
 * prob_mod subgraphs applied to the scores and probabilities.
 *
 *   Q [B, H, S, D] ──┐
 *   K [B, Hkv, T, D] ─ FlexAttention(score_mod?, prob_mod?, scale?) ──▶ Y
 *   V [B, Hkv, T, D] ─┘
 *
 * Q, K and V are 4-D inputs of the op (head axis 1); grouped-query attention is implied by
 * fewer K/V heads. There is no cache input. Rejected: inputs of another rank.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { edge, failed } from './pattern.js';

export const flexAttention: AttentionPattern = {
  name: 'flex-attention',
  anchors: [Op.FlexAttention],
  match(n: Node, facts: ShapeFacts): PatternOutcome {
    const [q, k, v] = n.inputs;
    if (!q || !k || !v) return failed('missing-qkv', `FlexAttention ${n.name} lacks a Q, K or V input`);
    const rank = facts.dims(q)?.length;
    if (rank !== undefined && rank !== 4) return failed('not-rank-4', `FlexAttention ${n.name} takes rank-${rank} inputs, not [B, H, S, D]`);
    return {
      ok: true,
      site: { q: edge(q, 'BHSD'), k: edge(k, 'BHSD'), v: edge(v, 'BHSD'), cache: null, variant: { cache: 'none' }, internal: [], output: n.output(0) },
    };
  },
};
