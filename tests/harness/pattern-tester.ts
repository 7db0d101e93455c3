/**
 * The tester every attention pattern file gets (tests/attention/patterns/<name>.test.ts):
 *
 *   valid cases    the pattern takes each; together they take every tagged alternative of
 *                  the pattern's oneOf trees
 *   invalid cases  the pattern refuses each with the stable id written in the case
 *   each case      the model's encoding is byte for byte the same after matching (no mutation)
 *   valid cases    after QDQ on the sites found (distinct per-head scales), the graph verifies
 */
import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/ir/model.js';
import { verifyModel } from '../../src/ir/verify.js';
import type { Pattern } from '../../src/pattern/dsl.js';
import { ShapeFacts } from '../../src/shapes/static-shapes.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { applyRules, bytesOf } from './rewrite.js';

export type Attempt = { readonly ok: true; readonly tags: Readonly<Record<string, string>> } | { readonly ok: false; readonly id: string; readonly reason: string };

/** A model, and the pattern tried on it (at the node or value the case is about). */
export interface Trial {
  readonly model: Model;
  readonly attempt: (facts: ShapeFacts) => Attempt;
}

export interface PatternCases {
  /** The file's name in src/attention/patterns/, without .ts. */
  readonly file: string;
  /** The DSL patterns of the file: every alternative of every oneOf in them must be taken by a valid case. */
  readonly tagged: readonly Pattern[];
  readonly valid: Readonly<Record<string, () => Trial>>;
  readonly invalid: Readonly<Record<string, { readonly id: string; readonly trial: () => Trial }>>;
  /** The rule set the rewrite check applies (default fp8-head). */
  readonly rules?: string;
}

/** "tag=alternative" for every alternative of every oneOf inside `p`. */
export function tagAlternatives(p: Pattern, into = new Set<string>()): Set<string> {
  switch (p.kind) {
    case 'oneOf':
      for (const [name, alt] of p.alternatives) {
        into.add(`${p.tag}=${name}`);
        tagAlternatives(alt, into);
      }
      break;
    case 'node':
      for (const i of p.inputs) tagAlternatives(i, into);
      break;
    case 'skip':
    case 'pass':
      tagAlternatives(p.inner, into);
      break;
    default:
      break;
  }
  return into;
}

/** The "tag=alternative" pairs the valid cases take. */
export function hitsOf(cases: PatternCases): Set<string> {
  const hits = new Set<string>();
  for (const build of Object.values(cases.valid)) {
    const r = build().attempt(new ShapeFacts());
    if (r.ok) for (const [k, v] of Object.entries(r.tags)) hits.add(`${k}=${v}`);
  }
  return hits;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

export function describePattern(cases: PatternCases): void {
  describe(`pattern ${cases.file}`, () => {
    for (const [name, build] of Object.entries(cases.valid)) {
      it(`takes ${name}, without changing the graph; after QDQ on its sites the graph verifies`, () => {
        const { model, attempt } = build();
        const before = bytesOf(model);
        const r = attempt(new ShapeFacts());
        expect(r.ok ? '' : `${r.id}: ${r.reason}`).toBe('');
        expect(same(bytesOf(model), before)).toBe(true);
        const { result } = applyRules(model, loadRuleSet(cases.rules ?? 'fp8-head'), (e) => Array.from({ length: e.heads }, (_, h) => 0.01 * (h + 1) + 0.003 * e.tensors.length));
        expect(result.inserted).toBeGreaterThan(0);
        verifyModel(model, name);
      });
    }
    for (const [name, { id, trial }] of Object.entries(cases.invalid)) {
      it(`refuses ${name} as ${id}, with a reason, without changing the graph`, () => {
        const { model, attempt } = trial();
        const before = bytesOf(model);
        const r = attempt(new ShapeFacts());
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.id).toBe(id);
          expect(r.reason.length).toBeGreaterThan(10);
        }
        expect(same(bytesOf(model), before)).toBe(true);
      });
    }
    if (cases.tagged.length > 0) {
      it('every tagged alternative of its oneOf trees is taken by a valid case', () => {
        const all = new Set<string>();
        for (const p of cases.tagged) tagAlternatives(p, all);
        const hits = hitsOf(cases);
        expect([...all].filter((t) => !hits.has(t)).sort()).toEqual([]);
      });
    }
  });
}

