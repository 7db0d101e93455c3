/**
 * The test files `npm run mutate` runs: those that exercise the mutated modules in-process
 * (Stryker mutates sources, so tests that drive the built CLI cannot see a mutant) and finish
 * in seconds. The full suite stays vitest.config.ts.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'tests/quant/*.test.ts',
      'tests/ir/dtypes.test.ts',
      'tests/rules/targets.test.ts',
      'tests/rules/rotations.test.ts',
      'tests/passes/insert-observers.test.ts',
      'tests/rules/regex.test.ts',
      'tests/rules/opset.test.ts',
      'tests/passes/contract.test.ts',
      'tests/compile/float16.test.ts',
      'tests/rules/schema.test.ts',
      'tests/rules/error-bound.test.ts',
      'tests/attention/fused.test.ts',
      'tests/compile/calibrated-heads.test.ts',
    ],
    // One worker keeps its modules between runs (onnxruntime loads once): the code has no module state.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    globalSetup: ['tests/harness/global-setup.ts'],
  },
});
