/**
 * `npm test`'s vitest run: every test file but the big runs (vitest.big.config.ts), one worker
 * per core. The files known to take longest start first, so that none of them starts last and
 * runs on alone while the other cores have finished.
 */
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { configDefaults, defineConfig } from 'vitest/config';
import { BIG_TESTS, WORKER } from './vitest.shared.js';

/** The longest files, longest first (seconds on a 2-core machine, measured 2026-11-30 after the bundled CLI). */
const LONGEST = [
  'tests/runtime/levels-corpus.test.ts', // 23
  'tests/decode/generation.test.ts', // 17
  'tests/compile/write-safety.test.ts', // 14
  'tests/rules/rewrite.test.ts', // 12
  'tests/cli/binary.test.ts', // 12
  'tests/compile/accuracy.test.ts', // 7
  'tests/calibrate/size-check.test.ts', // 7
  'tests/compile/compile-cli.test.ts', // 7
];

/** Vitest's order (failed first, then by its cached durations or file size), the longest files moved to the front. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = LONGEST.indexOf(relative(f.project.config.root, f.moduleId));
      return i < 0 ? LONGEST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    ...WORKER,
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...BIG_TESTS],
    sequence: { sequencer: LongestFirst },
  },
});
