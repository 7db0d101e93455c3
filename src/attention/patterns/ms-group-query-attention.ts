/**
 * com.microsoft `GroupQueryAttention` (onnxruntime-genai and the transformer optimizer's GQA
 * fusion):
 *
 *   query [B, S, H·D], key [B, S, Hkv·D], value [B, S, Hkv·D]
 *   past_key / past_value (inputs 3, 4) [B, Hkv, P, D] ─ GroupQueryAttention(num_heads, kv_num_heads)
 *                                                       ─▶ output, present_key, present_value
 *
 *   Q/K/V are packed (head axis 2, scale repeated D times); the cache is concatenated inside, so
 *   QDQ goes on past and new K/V.
 * Rejected: packed QKV (no key input), or a graph that already quantizes the cache in the op
 * (k_quant_type set): its own KV quantization contract comes first.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { edge, failed, insideCache } from './pattern.js';

export const msGroupQueryAttention: AttentionPattern = {
  name: 'ms-group-query-attention',
  anchors: [Op.MsGroupQueryAttention],
  match(n: Node, _facts: ShapeFacts): PatternOutcome {
    const [q, k, v, pastK, pastV] = n.inputs;
    const heads = n.intAttr('num_heads');
    const kvHeads = n.intAttr('kv_num_heads');
    if (heads === undefined || kvHeads === undefined) return failed('no-head-counts', `GroupQueryAttention ${n.name} lacks num_heads or kv_num_heads`);
    if (!q || !k || !v) return failed('packed-qkv', `GroupQueryAttention ${n.name} takes packed QKV: no separate K and V to quantize`);
    const quantType = n.attr('k_quant_type');
    if (quantType?.kind === 'string' && Buffer.from(quantType.value).toString() !== 'NONE') {
      return failed('cache-already-quantized', `GroupQueryAttention ${n.name} already quantizes its KV cache (k_quant_type)`);
    }
    const { cache, pastEdges } = insideCache(n, pastK, pastV);
    return {
      ok: true,
      site: {
        q: edge(q, 'BSE'),
        k: edge(k, 'BSE'),
        v: edge(v, 'BSE'),
        ...pastEdges,
        cache,
        variant: { cache: cache ? 'inside' : 'none' },
        numHeads: heads,
        numKvHeads: kvHeads,
        internal: [],
        output: n.output(0),
      },
    };
  },
};
