/**
 * scales.json: compressed-tensors tensor names -> {shape, values}, as the checkpoint would hold
 * them: `<site>.k_scale` of shape [num_kv_heads, 1, 1] per head or [1] per tensor; for
 * attention groups also the zero points (compressed-tensors registers them for attention).
 * With key centering (a ctc extension) also `<site>.k_offset` [num_kv_heads, head_dim].
 */
import type { QuantEdge } from '../quant/edges.js';
import type { QParams } from '../quant/qparams.js';
import { sortKeys } from './config.js';

export function scalesJson(
  edges: readonly QuantEdge[],
  qparams: readonly QParams[],
  attentionGroupSites: ReadonlySet<string>,
  keyOffsets: ReadonlyMap<string, { readonly heads: number; readonly values: ArrayLike<number> }> = new Map(),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // ctc_extensions.k_cache_centering: the offset subtracted from each site's keys
  for (const [site, m] of keyOffsets) out[`${site}.k_offset`] = { shape: [m.heads, m.values.length / m.heads], values: Array.from(m.values) };
  edges.forEach((e, i) => {
    const p = qparams[i]!;
    const shape = e.args.strategy === 'attn_head' ? [e.heads, 1, 1] : [1];
    out[e.scaleName] = { shape, values: Array.from(p.scale) };
    if (!e.args.symmetric || attentionGroupSites.has(e.site)) {
      out[e.zeroPointName] = { dtype: e.args.type === 'float' ? 'float8_e4m3fn' : `int${e.args.num_bits}`, shape, values: Array.from(p.zeroPoint) };
    }
  });
  return sortKeys(out) as Record<string, unknown>;
}
