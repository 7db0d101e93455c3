/**
 * The ONNX `Attention` operator (opset 23+), as the dynamo exporter writes it for
 * `scaled_dot_product_attention` and as hand-built graphs use it.
 *
 *   Q ────────────────────────────┐
 *   K ─[GQA repeat]─[cache Concat]─ Attention(q_num_heads?, kv_num_heads?, scale?, is_causal?)
 *   V ─[GQA repeat]─[cache Concat]─┘        ├─ past_key / past_value inputs (cache inside the op)
 *                                           └─ present_key / present_value outputs
 *
 *   4-D inputs are [B, H, S, D] (head axis 1); 3-D inputs are packed [B, S, H·D] and need the
 *   q_num_heads / kv_num_heads attributes (head axis 2, each head's scale repeated D times).
 *   cache=inside: the op concatenates past and new K/V itself, so QDQ goes on past_key and on K
 *   (and V): present_key then holds quantized values. cache=concat: the exporter concatenated
 *   outside the op (and may repeat for GQA after it): QDQ goes on the Concat output.
 *   cache=window: the same, and present keeps the Concat's last positions (sliding-window-cache.ts).
 * Rejected: an Attention without K or V (not produced by any exporter), or a 3-D input without
 * the head-count attributes.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import { stripRepeat } from './gqa-repeat.js';
import { matchCache } from './kv-cache.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { edge, failed, insideCache } from './pattern.js';

export const onnxAttention: AttentionPattern = {
  name: 'onnx-attention',
  anchors: [Op.Attention],
  match(n: Node, facts: ShapeFacts): PatternOutcome {
    const [q, k, v, , pastK, pastV] = n.inputs;
    if (!q || !k || !v) return failed('missing-qkv', `Attention ${n.name} lacks a Q, K or V input`);
    const qHeads = n.intAttr('q_num_heads');
    const kvHeads = n.intAttr('kv_num_heads');
    const rank = facts.dims(q)?.length ?? (qHeads !== undefined ? 3 : 4);
    const layout = rank === 3 ? 'BSE' : 'BHSD';
    if (rank === 3 && (qHeads === undefined || kvHeads === undefined)) return failed('packed-without-head-counts', `Attention ${n.name} takes 3-D inputs without q_num_heads/kv_num_heads`);
    const heads = { ...(qHeads !== undefined ? { numHeads: qHeads } : {}), ...(kvHeads !== undefined ? { numKvHeads: kvHeads } : {}) };
    const output = n.output(0);
    if (pastK || pastV) {
      if (!pastK || !pastV) return failed('past-on-one-side', `Attention ${n.name} has only one of past_key and past_value`);
      const { cache, pastEdges } = insideCache(n, pastK, pastV);
      return {
        ok: true,
        site: {
          q: edge(q, layout),
          k: edge(k, layout),
          v: edge(v, layout),
          ...pastEdges,
          cache,
          variant: { layout, cache: 'inside' },
          internal: [],
          output,
          ...heads,
        },
      };
    }
    const kr = layout === 'BHSD' ? stripRepeat(k, facts) : { source: k, repeated: false, factor: undefined };
    const vr = layout === 'BHSD' ? stripRepeat(v, facts) : { source: v, repeated: false, factor: undefined };
    const kc = matchCache(kr.source, facts);
    const vc = matchCache(vr.source, facts);
    if ((kc === undefined) !== (vc === undefined)) return failed('cache-on-one-side', 'only one of K and V has a cache Concat');
    const factor = kr.factor ?? vr.factor;
    return {
      ok: true,
      site: {
        q: edge(q, layout),
        k: edge(kr.source, layout),
        v: edge(vr.source, layout),
        cache: kc && vc ? { pastKey: kc.past.name, presentKey: kc.present, pastValue: vc.past.name, presentValue: vc.present } : null,
        variant: { layout, cache: kc ? (kc.window ? 'window' : 'concat') : 'none', groupedQueryRepeat: kr.repeated ? 'repeat' : 'none' },
        internal: [],
        output,
        queryHeadHints: kr.repeated ? [edge(k, 'BHSD')] : [],
        ...(factor !== undefined ? { repeatFactor: factor } : {}),
        ...heads,
      },
    };
  },
};
