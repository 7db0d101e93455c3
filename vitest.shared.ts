/**
 * What the test configs share: how a worker runs, and which files are the big runs.
 *
 *   vitest.config.ts                npm test: every test file but the big runs
 *   vitest.big.config.ts            npm run test:big: the big runs (CI runs both)
 *   vitest.mutate*.config.ts        npm run mutate*: a few in-process files, Stryker's workers
 */
import { availableParallelism } from 'node:os';
import type { ViteUserConfig } from 'vitest/config';

/**
 * Big-model, fuzz and accuracy-table runs: a 200,000-node graph, models whose weights pass 2 GiB
 * (sparse files, but the 2 GiB inline refusal calibrates first), the fuzz campaign's bounded
 * slice, and README's accuracy table on the bigger evaluation set (every KV-cache rule set on
 * 5,040 held-out bytes per trained model: a quarter of npm test's CPU on its own).
 */
export const BIG_TESTS = ['tests/scale/**/*.test.ts', 'tests/tools/fuzz-slice.test.ts', 'tests/compile/bigger-set-*.test.ts'];

/** Every config, the mutation runs' too: how a worker runs the files it is given. */
export const IN_PROCESS: NonNullable<ViteUserConfig['test']> = {
  // One worker runs file after file without reloading src/ and onnxruntime for each (about a
  // second of CPU per file): nothing in src/ keeps module state, and tests/harness/cli.ts checks
  // that an in-process CLI call leaves the process as it found it.
  isolate: false,
  testTimeout: 120_000,
  hookTimeout: 300_000,
  globalSetup: ['tests/harness/global-setup.ts'],
};

/** npm test and test:big: IN_PROCESS, one forked worker per core. */
export const WORKER: NonNullable<ViteUserConfig['test']> = {
  ...IN_PROCESS,
  // onnxruntime-node is a native addon: forks isolate it per worker.
  pool: 'forks',
  // One worker per core: vitest's default in a run leaves a core to itself (cores − 1), which on
  // a 2-core machine is one worker and a second core mostly idle.
  maxWorkers: availableParallelism(),
};
