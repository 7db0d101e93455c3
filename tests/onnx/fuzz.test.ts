/**
 * Property: whatever bytes a user hands ctc, loading (and finding sites in what loads) either
 * succeeds or fails with a CtcError (exit code 1, a message); never another exception, never a
 * hang. Inputs: valid models with random bytes flipped, truncated or spliced.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { CtcError } from '../../src/errors.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { corpusModel, NODE_TESTS } from '../harness/paths.js';

const seeds = [corpusModel('qwen2-random-ts-eager'), join(NODE_TESTS, 'test_attention_4d_gqa_with_past_and_present', 'model.onnx'), join(NODE_TESTS, 'test_if', 'model.onnx')].map((f) => readFileSync(f));
const dir = mkdtempSync(join(tmpdir(), 'ctc-fuzz-'));

const mutation = fc.record({
  seed: fc.nat(seeds.length - 1),
  flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
});

describe('damaged models', () => {
  it('load or fail with a clear error, never crash', () => {
    let loaded = 0;
    let refused = 0;
    fc.assert(
      fc.property(mutation, ({ seed, flips, cut }) => {
        const bytes = Buffer.from(seeds[seed]!);
        for (const [at, value] of flips) bytes[Math.floor(at * (bytes.length - 1))] = value;
        const data = cut === null ? bytes : bytes.subarray(0, Math.floor(cut * bytes.length));
        const f = join(dir, 'm.onnx');
        writeFileSync(f, data);
        try {
          const m = loadModel(f);
          findSites(m, ATTENTION_PATTERNS);
          loaded++;
        } catch (e) {
          if (!(e instanceof CtcError)) throw new Error(`internal error on damaged input: ${(e as Error).stack}`);
          expect((e as Error).message.length).toBeGreaterThan(10);
          refused++;
        }
      }),
      { numRuns: 300 },
    );
    expect(loaded + refused).toBe(300);
  });
});
