/**
 * The test files `npm run mutate:dtypes` runs on each mutant of src/ir/dtypes.ts: the codec,
 * data type and serde tests, in-process, a few seconds in all. Every test of the project reads
 * a tensor through the codecs, so with vitest.mutate.config.ts each of the ~470 mutants ran
 * the whole mutation suite (a 40-minute run stopped at 200); these files pin the codecs
 * against independent references (ONNX backend Cast and Q/DQ tests, onnxruntime, hand-computed
 * bit patterns).
 */
import { defineConfig } from 'vitest/config';
import { IN_PROCESS } from './vitest.shared.js';

export default defineConfig({
  test: {
    include: ['tests/ir/dtypes.test.ts', 'tests/ir/dtypes-onnx-cast.test.ts', 'tests/quant/qdq-codecs.test.ts', 'tests/onnx/tensor-fields.test.ts', 'tests/onnx/value-types.test.ts'],
    // Stryker starts the workers; each keeps its modules between runs (onnxruntime loads once).
    ...IN_PROCESS,
  },
});
