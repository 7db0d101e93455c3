/**
 * Grouped-query forms: K and V are quantized before the repeat, with the key/value heads, and
 * the cache concatenated before the repeat is linked, whatever form the repeat takes.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import { findSites } from '../../../src/attention/find-sites.js';
import { H, decomposedBlock } from '../../harness/decomposed-block.js';

const cache = { pastKey: 'past_key', presentKey: 'present_key', pastValue: 'past_value', presentValue: 'present_value' };

describe('grouped-query attention: kv heads before the repeat, the cache linked', () => {
  it("the repeat's Reshape merged into dynamo's 3-D transpose of K (static-shape dynamo export)", () => {
    const { model } = decomposedBlock({ cache: 'input', repeat: true, mergedRepeat: true, keyLayout: 'BHSD3d' });
    const [site] = findSites(model, ATTENTION_PATTERNS).sites;
    expect([site!.numHeads, site!.numKvHeads]).toEqual([H, H / 2]);
    expect(site!.cache).toEqual(cache);
    expect([site!.k.value.name, site!.v.value.name]).toEqual(['present_key', 'present_value']);
  });
});
