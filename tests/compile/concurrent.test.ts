/**
 * No process-wide state: two compiles of different models running at once in one process give
 * byte for byte what each gives alone.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';


describe('concurrent compiles', () => {
  it('do not affect each other', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ctc-concurrent-'));
    const jobs = [
      { model: corpusModel('llama-gqa-bytes-ts-eager'), rules: 'fp8-head' },
      { model: corpusModel('gpt2-bytes-ts-eager'), rules: 'int4-kv-head' },
    ];
    for (const [i, j] of jobs.entries()) await compile({ ...j, outDir: join(d, `alone${i}`), calibSets: '0-3', ...quiet });
    await Promise.all(jobs.map((j, i) => compile({ ...j, outDir: join(d, `together${i}`), calibSets: '0-3', ...quiet })));
    for (const i of [0, 1]) {
      for (const f of ['model.onnx', 'quantization_config.json', 'scales.json']) {
        expect(readFileSync(join(d, `alone${i}`, f)).equals(readFileSync(join(d, `together${i}`, f))), `${i}/${f}`).toBe(true);
      }
    }
  });
});
