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
