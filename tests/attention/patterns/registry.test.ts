/**
 * Every file of src/attention/patterns/ is accounted for: a file that exports an attention
 * pattern has it registered in index.ts (ATTENTION_PATTERNS); a sub-pattern file (the cache,
 * the grouped-query repeat) is used by a registered pattern file; each file has its own tester
 * (tests/attention/patterns/<name>.test.ts); and every tagged alternative of every oneOf
 * exported by any of them is taken by some valid case.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../../src/attention/patterns/index.js';
import type { Pattern } from '../../../src/pattern/dsl.js';
import type { PatternCases } from '../../harness/pattern-tester.js';
import { hitsOf, tagAlternatives } from '../../harness/pattern-tester.js';
import { ROOT } from '../../harness/paths.js';

const DIR = join(ROOT, 'src', 'attention', 'patterns');
/** Shared helpers and the registry itself: not patterns. */
const NOT_PATTERNS = ['index', 'pattern'];
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''))
  .filter((f) => !NOT_PATTERNS.includes(f))
  .sort();

const isAttentionPattern = (x: unknown): boolean => typeof x === 'object' && x !== null && 'anchors' in x && 'match' in x && 'name' in x;
const isDslPattern = (x: unknown): x is Pattern => typeof x === 'object' && x !== null && 'kind' in x && ['node', 'oneOf', 'skip', 'pass', 'any', 'const', 'same'].includes((x as { kind: string }).kind);

async function exportsOf(file: string): Promise<unknown[]> {
  return Object.values((await import(join(DIR, `${file}.ts`))) as Record<string, unknown>);
}

describe('attention pattern files', () => {
  it('each exports a registered pattern, or is a sub-pattern a registered pattern file imports', async () => {
    const registered = new Set<unknown>(ATTENTION_PATTERNS);
    const sources = files.map((f) => readFileSync(join(DIR, `${f}.ts`), 'utf8'));
    const unaccounted: string[] = [];
    let patterns = 0;
    for (const [i, file] of files.entries()) {
      const mine = (await exportsOf(file)).filter(isAttentionPattern);
      patterns += mine.length;
      for (const p of mine) if (!registered.has(p)) unaccounted.push(`${file}: ${(p as { name: string }).name} is not in ATTENTION_PATTERNS`);
      if (mine.length === 0) {
        const users = files.filter((_, j) => j !== i && sources[j]!.includes(`'./${file}.js'`));
        if (users.length === 0) unaccounted.push(`${file}: neither a registered pattern nor imported by one`);
      }
    }
    expect(unaccounted).toEqual([]);
    expect(patterns).toBe(ATTENTION_PATTERNS.length);
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it('each has its own tester file', () => {
    expect(files.filter((f) => !existsSync(join(ROOT, 'tests', 'attention', 'patterns', `${f}.test.ts`)))).toEqual([]);
  });

  it('every tagged alternative of every exported oneOf is taken by some valid case', async () => {
    const alternatives = new Set<string>();
    const hits = new Set<string>();
    for (const file of files) {
      for (const p of (await exportsOf(file)).filter(isDslPattern)) tagAlternatives(p, alternatives);
      const cases = (await import(join(ROOT, 'tests', 'attention', 'patterns', 'cases', `${file}.ts`))) as Record<string, PatternCases>;
      for (const c of Object.values(cases).filter((x) => typeof x === 'object' && x !== null && 'valid' in x)) for (const h of hitsOf(c)) hits.add(h);
    }
    expect(alternatives.size).toBeGreaterThan(25);
    expect([...alternatives].filter((a) => !hits.has(a)).sort()).toEqual([]);
  });
});
