/**
 * Property tests: attention blocks generated from every tagged variant, planted in graphs with
 * decoys, are found exactly (heads, edges, cache), whatever the node order; near misses are
 * not taken.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import type { Mutation } from '../harness/attention-blocks.js';
import { blockSpec, buildAttentionGraph } from '../harness/attention-blocks.js';
import { shuffled } from '../harness/fixtures.js';


describe('planted attention blocks', () => {
  it('are found exactly, with their heads, edges and cache, in any node order', () => {
    fc.assert(
      fc.property(
        fc.array(blockSpec, { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(3), { maxLength: 3 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        (blocks, noise, router, classifier, seed) => {
          const g = buildAttentionGraph(blocks, noise, { router, classifier });
          g.model.graph.reorder(shuffled(g.model.graph.nodes, seed));
          const { sites, rejected } = findSites(g.model, ATTENTION_PATTERNS);
          expect(sites.length).toBe(blocks.length);
          const byK = new Map(sites.map((s) => [s.k.value.name, s]));
          for (const p of g.planted) {
            const s = byK.get(p.k);
            expect(s, `block with K edge ${p.k} (${JSON.stringify(p.spec)})`).toBeDefined();
            expect([s!.numHeads, s!.numKvHeads, s!.headDim]).toEqual([p.spec.heads, p.spec.heads / p.spec.ratio, p.spec.headDim]);
            expect(s!.v.value.name).toBe(p.v);
            expect(s!.q!.value.name).toBe(p.q);
            expect(s!.cache !== null).toBe(p.spec.cache);
            expect(s!.k.layout).toBe(p.spec.layout === 'BSHD' ? 'BSHD' : 'BHSD');
          }
          // The decoys' Softmaxes are reported as not taken, never as sites.
          expect(rejected.length).toBe((router ? 1 : 0) + (classifier ? 1 : 0));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('near misses are not taken: softmax on another axis, K not transposed, weights as K, scores used elsewhere', () => {
    fc.assert(
      fc.property(
        blockSpec,
        blockSpec,
        fc.constantFrom<Mutation>('softmax-axis', 'no-key-transpose', 'scores-escape', 'weights-as-key'),
        (good, bad, mutation) => {
          const g = buildAttentionGraph([good, { ...bad, mutation }], [], { router: false, classifier: false });
          const { sites, rejected } = findSites(g.model, ATTENTION_PATTERNS);
          expect(sites.map((s) => s.k.value.name)).toEqual([g.planted[0]!.k]);
          expect(rejected.length).toBe(1);
          expect(rejected[0]!.op).toBe('Softmax');
          expect(rejected[0]!.reason.length).toBeGreaterThan(10);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('near misses of the cache, the grouped-query repeat and the casts', () => {
  const cached = blockSpec.filter((s) => s.layout !== 'BSHD').map((s) => ({ ...s, cache: true }));
  const grouped = cached.map((s) => ({ ...s, ratio: Math.max(2, s.ratio), heads: (s.heads / s.ratio) * Math.max(2, s.ratio) }));

  it('a cache Concat on the heads axis is not a cache: the site has none (or its heads do not add up and it is refused)', () => {
    fc.assert(
      fc.property(blockSpec, cached, (good, bad) => {
        const g = buildAttentionGraph([good, { ...bad, mutation: 'cache-concat-axis' }], [], { router: false, classifier: false });
        let sites;
        try {
          sites = findSites(g.model, ATTENTION_PATTERNS).sites;
        } catch (e) {
          // doubling the KV heads can leave more KV heads than query heads
          expect((e as Error).message).toMatch(/attention site attention\.1: inconsistent heads/);
          return;
        }
        expect(sites.length).toBe(2);
        const mutated = sites.find((s) => s.q!.value.name === g.nearMisses[0]!.q)!;
        expect(mutated.cache, JSON.stringify(bad)).toBeNull();
        expect(sites.some((s) => s.cache?.pastKey === 'past.1.key')).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('an Unsqueeze on another axis than 2 is not a grouped-query repeat: K and V are not traced back to the cache', () => {
    fc.assert(
      fc.property(grouped, (bad) => {
        const g = buildAttentionGraph([{ ...bad, mutation: 'repeat-unsqueeze-axis' }], [], { router: false, classifier: false });
        const { sites } = findSites(g.model, ATTENTION_PATTERNS);
        const miss = g.nearMisses[0]!;
        for (const s of sites) {
          expect([s.k.value.name, s.v.value.name]).not.toContain(miss.k);
          expect([s.k.value.name, s.v.value.name]).not.toContain(miss.v);
          expect(s.cache).toBeNull();
        }
        // the unmutated block is traced to its cache with kv_heads heads
        const ok = buildAttentionGraph([bad], [], { router: false, classifier: false });
        const [site] = findSites(ok.model, ATTENTION_PATTERNS).sites;
        expect([site!.k.value.name, site!.numKvHeads, site!.cache?.pastKey]).toEqual([ok.planted[0]!.k, bad.heads / bad.ratio, 'past.0.key']);
      }),
      { numRuns: 40 },
    );
  });

  it('a past cache read through an integer Cast is not a cache (only same-type Casts are transparent)', () => {
    fc.assert(
      fc.property(cached, (bad) => {
        const g = buildAttentionGraph([{ ...bad, mutation: 'past-cast-to-int' }], [], { router: false, classifier: false });
        const { sites } = findSites(g.model, ATTENTION_PATTERNS);
        expect(sites.length).toBe(1);
        expect(sites[0]!.cache).toBeNull();
      }),
      { numRuns: 20 },
    );
  });

  it('a Cast to an integer type before the softmax is not looked through; a float Cast is', () => {
    fc.assert(
      fc.property(blockSpec, blockSpec, (good, bad) => {
        const g = buildAttentionGraph([good, { ...bad, mutation: 'cast-to-int' }], [], { router: false, classifier: false });
        const { sites, rejected } = findSites(g.model, ATTENTION_PATTERNS);
        expect(sites.map((s) => s.k.value.name)).toEqual([g.planted[0]!.k]);
        expect(rejected.map((r) => r.op)).toEqual(['Softmax']);
      }),
      { numRuns: 40 },
    );
  });
});
