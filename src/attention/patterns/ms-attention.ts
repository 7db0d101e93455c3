/**
 * com.microsoft `Attention` (onnxruntime's older fused BERT/GPT-2 attention):
 *
 *   input [B, S, hidden] ─ Attention(weights [hidden, 3·hidden], bias, mask, past [2, B, H, P, D])
 *
 * The Q/K/V projections happen inside the op, so there is no Q, K or V tensor in the graph, and
 * the cache is one stacked tensor for K and V together: per-head Q/K/V QDQ cannot be placed.
 * The pattern recognizes the op so that `ctc inspect --explain` says so, and never takes it.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { failed } from './pattern.js';

export const msAttention: AttentionPattern = {
  name: 'ms-attention',
  anchors: [Op.MsAttention],
  match(n: Node): PatternOutcome {
    return failed(
      'qkv-inside-op',
      `com.microsoft.Attention ${n.name} computes Q, K and V inside the op from packed weights: there is no Q/K/V tensor to quantize per head (unfuse it, or export without onnxruntime's fusion)`,
    );
  },
};
