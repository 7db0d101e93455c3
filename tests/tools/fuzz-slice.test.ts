/**
 * The fuzz campaign's bounded slice in CI: the first 200 cases of seed 1 (mutated corpus models,
 * side files and command lines, see tools/fuzz/case.ts), each run in this process through the
 * CLI's entry function as the campaign's workers run them. Every run must end in exit 0 or
 * exit 1 with the inputs untouched: an exit 2, an exception, a stray rejection or a changed
 * input fails the test and names the case (`npm run fuzz -- --seed 1 --case N` replays it); a
 * hang fails it by the test's time limit. The full campaign (`npm run fuzz -- --minutes N`) runs
 * outside CI.
 *
 *   makeCase(1, i) ─▶ runCase (files laid out in a fresh folder, main(argv) in-process) ─▶ outcome
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Command } from '../../tools/fuzz/case.js';
import { makeCase } from '../../tools/fuzz/case.js';
import { loadCorpus } from '../../tools/fuzz/corpus.js';
import type { Outcome } from '../../tools/fuzz/worker.js';
import { runCase } from '../../tools/fuzz/worker.js';
import { ROOT } from '../harness/paths.js';

const SEED = 1;
const RUNS = 200;
const work = mkdtempSync(join(tmpdir(), 'ctc-fuzz-slice-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('fuzz slice (seed 1, 200 runs)', () => {
  it('every run is exit 0 or exit 1, no input changes, and the slice reaches both and a successful compile', async () => {
    const corpus = loadCorpus(ROOT);
    const counts: Record<Outcome, number> = { exit0: 0, exit1: 0, exit2: 0, crash: 0, hang: 0, changed: 0 };
    const compiled: Partial<Record<Command, number>> = {};
    const findings: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c = makeCase(SEED, i, corpus);
      const r = await runCase(c, join(work, `case-${i}`));
      counts[r.outcome]++;
      if (r.outcome === 'exit0' && c.command.startsWith('compile')) compiled[c.command] = (compiled[c.command] ?? 0) + 1;
      if (r.outcome !== 'exit0' && r.outcome !== 'exit1') findings.push(`case ${i} (${c.command} on ${c.seed}, ${c.what.join(' | ') || 'no mutation'}): ${r.outcome}\n${r.message.slice(0, 1500)}`);
    }
    expect(findings).toEqual([]);
    expect([counts.exit2, counts.crash, counts.hang, counts.changed]).toEqual([0, 0, 0, 0]);
    expect(counts.exit0 + counts.exit1).toBe(RUNS);
    // The slice exercises both the accepting and the refusing paths, and gets a compile through.
    expect(counts.exit0).toBeGreaterThan(0);
    expect(counts.exit1).toBeGreaterThan(0);
    expect(Object.values(compiled).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 180_000);
});
