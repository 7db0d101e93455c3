/**
 * `npm run test:big`: the big-model, fuzz and accuracy-table runs (vitest.shared.ts BIG_TESTS), kept out of
 * `npm test` for its wall time on 2 cores; .ci/run runs them after `npm test`.
 */
import { defineConfig } from 'vitest/config';
import { BIG_TESTS, WORKER } from './vitest.shared.js';

export default defineConfig({
  test: {
    ...WORKER,
    include: BIG_TESTS,
  },
});
