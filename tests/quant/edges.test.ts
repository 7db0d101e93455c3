/**
 * The quantized edges of a plan: which roles, tensors, heads and compressed-tensors scale names
 * each site gets, and the per-axis layout of per-head values (one per head on a head axis, each
 * head's value D times on a packed [B, S, H·D] tensor).
 */
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import type { Edge } from '../../src/attention/site.js';
import { perAxisValues, quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { corpusModel } from '../harness/paths.js';

const { sites } = scanModelFile(corpusModel('llama-gqa-bytes-ts-eager'));

describe('quantEdges', () => {
  it('an attention group: Q with num_heads, K and V with num_kv_heads (corpus/manifest.json: 6, 2, head size 32), named <site>.{q,k,v}_scale', () => {
    const edges = quantEdges(planSites(loadRuleSet('fp8-head'), sites));
    expect(edges.length).toBe(12);
    expect(edges.slice(0, 3).map((e) => [e.site, e.layer, e.role, e.heads, e.headDim, e.tensors.length, e.scaleName, e.zeroPointName])).toEqual([
      ['model.model.layers.0.self_attn', 0, 'q', 6, 32, 1, 'model.model.layers.0.self_attn.q_scale', 'model.model.layers.0.self_attn.q_zero_point'],
      ['model.model.layers.0.self_attn', 0, 'k', 2, 32, 1, 'model.model.layers.0.self_attn.k_scale', 'model.model.layers.0.self_attn.k_zero_point'],
      ['model.model.layers.0.self_attn', 0, 'v', 2, 32, 1, 'model.model.layers.0.self_attn.v_scale', 'model.model.layers.0.self_attn.v_zero_point'],
    ]);
    expect(edges[1]!.tensors[0]!.value).toBe(sites[0]!.k.value);
  });
  it('a kv_cache_scheme alone: K and V only, no Q edge', () => {
    const edges = quantEdges(planSites(loadRuleSet('int4-kv-head'), sites));
    expect(edges.map((e) => `${e.layer}${e.role}`)).toEqual(['0k', '0v', '1k', '1v', '2k', '2v', '3k', '3v']);
    expect(edges.every((e) => e.args.num_bits === 4)).toBe(true);
  });
  it('a plan for a Q the site does not have yields no Q edge', () => {
    const [plan] = planSites(loadRuleSet('fp8-head'), sites);
    const edges = quantEdges([{ ...plan!, site: { ...plan!.site, q: undefined } }]);
    expect(edges.map((e) => e.role)).toEqual(['k', 'v']);
  });
});

describe('perAxisValues', () => {
  const edge = (layout: Edge['layout']): Edge => ({ value: sites[0]!.k.value, layout, headAxis: layout === 'BSE' ? 2 : 1, rank: layout === 'BSE' ? 3 : 4 });
  it('on a head axis: one value per head, in head order', () => {
    expect(perAxisValues([1, 2, 3], edge('BHSD'), 4)).toEqual([1, 2, 3]);
  });
  it('packed [B, S, H·D]: each head repeated D times, in head order (not the heads tiled)', () => {
    expect(perAxisValues([1, 2, 3], edge('BSE'), 2)).toEqual([1, 1, 2, 2, 3, 3]);
  });
});
