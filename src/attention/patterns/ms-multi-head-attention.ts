/**
 * com.microsoft `MultiHeadAttention` (onnxruntime's fused attention, written by its
 * transformer optimizer):
 *
 *   query [B, S, H·D] ─┐
 *   key   [B, S, H·D] ─ MultiHeadAttention(num_heads) ─▶ output, present_key, present_value
 *   value [B, S, H·D] ─┘   past_key / past_value (inputs 6, 7) [B, H, P, D]: cache inside
 *
 *   Q/K/V are packed [B, S, H·D] (head axis 2, scale repeated D times); a 4-D key/value is
 *   [B, H, S, D]. With a past, QDQ goes on past_key and key, so present_key is quantized.
 * Rejected: packed QKV in the query (5-D) or a missing key/value: Q, K and V are not separate
 * tensors there.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { edge, failed, insideCache } from './pattern.js';
import type { Layout } from '../site.js';

export const msMultiHeadAttention: AttentionPattern = {
  name: 'ms-multi-head-attention',
  anchors: [Op.MsMultiHeadAttention],
  match(n: Node, facts: ShapeFacts): PatternOutcome {
    const [q, k, v] = n.inputs;
    const pastK = n.inputs[6];
    const pastV = n.inputs[7];
    const heads = n.intAttr('num_heads');
    if (heads === undefined) return failed('no-num-heads', `MultiHeadAttention ${n.name} has no num_heads`);
    if (!q || !k || !v) return failed('packed-qkv', `MultiHeadAttention ${n.name} packs Q/K/V into one input: no separate Q, K and V to quantize`);
    if (facts.dims(q)?.length === 5) return failed('packed-qkv-5d', `MultiHeadAttention ${n.name} takes packed QKV (5-D query)`);
    const layoutOf = (x: typeof k): Layout => (facts.dims(x!)?.length === 4 ? 'BHSD' : 'BSE');
    const { cache, pastEdges } = insideCache(n, pastK, pastV);
    return {
      ok: true,
      site: {
        q: edge(q, 'BSE'),
        k: edge(k, layoutOf(k)),
        v: edge(v, layoutOf(v)),
        ...pastEdges,
        cache,
        variant: { cache: cache ? 'inside' : 'none' },
        numHeads: heads,
        numKvHeads: heads,
        internal: [],
        output: n.output(0),
      },
    };
  },
};
