import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import { CORPUS, corpusModel } from '../harness/paths.js';

interface Expected {
  sites: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  cache: boolean;
}
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: Record<string, Expected> };

describe('corpus models: sites match the README rows', () => {
  for (const [name, want] of Object.entries(manifest.models)) {
    it(name, () => {
      const { sites, rejected } = scanModelFile(corpusModel(name));
      expect(sites.length).toBe(want.sites);
      expect(rejected).toEqual([]);
      sites.forEach((s, i) => {
        expect(s.layer).toBe(i);
        expect([s.numHeads, s.numKvHeads, s.headDim]).toEqual([want.heads, want.kvHeads, want.headDim]);
        expect(s.cache !== null).toBe(want.cache);
        if (s.cache) {
          // K and V are quantized on the cache (the Concat output), whose graph outputs keep their names.
          expect(s.cache).toEqual({
            pastKey: `past_key_values.${i}.key`,
            presentKey: `present.${i}.key`,
            pastValue: `past_key_values.${i}.value`,
            presentValue: `present.${i}.value`,
          });
          expect(s.k.value.name).toBe(`present.${i}.key`);
          expect(s.v.value.name).toBe(`present.${i}.value`);
        }
        expect(s.k.layout === 'BHSD' || s.k.layout === 'BSHD').toBe(true);
        expect(s.kind).toBe('self');
      });
    });
  }
});
