/**
 * Zoo encoders, encoder-decoders and vision transformers: `compile --rules fp8-head` (Q, K, V
 * per head, self- and cross-attention), calibrated on the model's two sets, succeeds and keeps
 * the output within the float8 error bound of the float model's output (output_0.pb).
 */
import { describe, expect, it } from 'vitest';
import { compileTests, expectedFailures, zooModels } from './zoo.js';

describe('zoo encoders, encoder-decoders, vision: compile with fp8-head stays within the fp8 error', () => {
  compileTests(zooModels().filter((m) => !m.cache), expectedFailures(), it, expect);
});
