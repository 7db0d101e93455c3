import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // onnxruntime-node is a native addon: forks isolate it per worker.
    pool: 'forks',
    // One worker runs file after file without reloading src/ and onnxruntime for each (about a
    // second of CPU per file): nothing in src/ keeps module state, and tests/harness/cli.ts checks
    // that an in-process CLI call leaves the process as it found it.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    globalSetup: ['tests/harness/global-setup.ts'],
  },
});
