/**
 * The bigger evaluation set (corpus/generators/eval-sets.ts) is made as sets 0–15 were: built at
 * the windows of sets 8–15, it gives those sets' committed inputs (made in PyTorch: the same
 * input_ids and masks, the prefix caches within float error), and its own windows read none of
 * the bytes sets 0–15 read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COUNT, EXISTING_STARTS, WINDOW, buildSets, windowStarts } from '../../corpus/generators/eval-sets.js';
import { decodeTensorFile } from '../../src/onnx/serde.js';
import { CORPUS, corpusModel } from '../harness/paths.js';

const heldout = readFileSync(join(CORPUS, 'heldout.bin'));

describe('bigger evaluation set', () => {
  it('its windows are distinct, inside heldout.bin, and overlap none of sets 0-15', () => {
    const starts = windowStarts(heldout.length);
    expect(starts.length).toBe(DEFAULT_COUNT);
    expect(DEFAULT_COUNT * 63).toBeGreaterThanOrEqual(4000);
    for (const [i, s] of starts.entries()) {
      expect(s + WINDOW).toBeLessThanOrEqual(heldout.length);
      if (i > 0) expect(s).toBeGreaterThanOrEqual(starts[i - 1]! + WINDOW);
      for (const e of EXISTING_STARTS) expect(s + WINDOW <= e || e + WINDOW <= s, `window ${s} overlaps set window ${e}`).toBe(true);
    }
  });

  for (const model of ['llama-gqa-bytes-ts-eager', 'gpt2-bytes-ts-eager']) {
    it(`${model}: built at the windows of sets 8-15, it gives the committed sets' inputs`, async () => {
      const built = await buildSets(corpusModel(model), heldout, EXISTING_STARTS.slice(8));
      built.forEach((set, i) => {
        const dir = join(CORPUS, model, `test_data_set_${8 + i}`);
        set.inputs.forEach((t, k) => {
          const f = join(dir, `input_${k}.pb`);
          const want = decodeTensorFile(readFileSync(f), f);
          expect(t.dims).toEqual(want.dims);
          expect(t.dataType).toBe(want.dataType);
          if (k < 2) expect(t.toNumbers()).toEqual(want.toNumbers()); // input_ids, attention_mask
          else {
            const a = t.toFloat32();
            const b = want.toFloat32();
            let max = 0;
            for (let j = 0; j < a.length; j++) max = Math.max(max, Math.abs(a[j]! - b[j]!));
            expect(max, `${f}: the prefix cache`).toBeLessThan(1e-4);
          }
        });
      });
    });
  }
});
