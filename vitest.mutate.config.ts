/**
 * The test files `npm run mutate` runs: in-process tests of the mutated modules that finish in
 * seconds, since Stryker runs them once per mutant. The CLI tests also run main() in-process now
 * (tests/harness/cli.ts), so a mutant is visible to them too, but each calibrates real models
 * for seconds to minutes: add one here only to kill a mutant nothing faster can see. Tests of
 * the built binary (ctcProcess) cannot see a mutant. The full suite stays vitest.config.ts.
 */
import { defineConfig } from 'vitest/config';
import { IN_PROCESS } from './vitest.shared.js';

export default defineConfig({
  test: {
    include: [
      'tests/quant/*.test.ts',
      'tests/attention/qdq-pair.test.ts',
      'tests/passes/insert-dynamic-qdq.test.ts',
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
    // Stryker starts the workers; each keeps its modules between runs (onnxruntime loads once).
    ...IN_PROCESS,
  },
});
