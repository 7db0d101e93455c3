/**
 * The onnxruntime promise on the corpus: every built-in rule set, compiled for each corpus
 * decoder (TorchScript Llama with GQA, dynamo Llama with the ONNX Attention op, GPT-2), loads
 * and runs in onnxruntime-node 1.30 on the CPU provider at every graph optimization level, and
 * each level's outputs agree with `disabled` within the quantization's own error: logits within
 * a quarter of it, the dequantized present.* within one grid step on at most 1 % of the
 * elements (tests/harness/levels.ts says why).
 *
 * Compiled once per (model, rule set) and run at four levels; calibration on one set keeps it
 * fast (the scales need only be real, not the reference table's).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { toOrtTensor } from '../../src/calibrate/ort.js';
import type { ort } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { builtinRuleNames } from '../../src/rules/load.js';
import { FLIP_FRACTION, LEVEL_BOUND, computedScaleMaxima, dynamicGridOutputs, gridSteps, inRotatedSpace, levelChecks, runAtLevels } from '../harness/levels.js';
import type { Outputs } from '../harness/levels.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const MODELS = ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'gpt2-bytes-ts-eager'];

for (const name of MODELS) {
  describe(`${name} in onnxruntime at every optimization level`, () => {
    const path = corpusModel(name);
    const out = mkdtempSync(join(tmpdir(), `ctc-levels-${name}-`));
    let feeds: Record<string, ort.Tensor>;
    let reference: Outputs;

    beforeAll(async () => {
      const model = loadModel(path);
      const set = testDataSets(model, findDataSets(path, [], '8'))[0]!.load();
      feeds = Object.fromEntries([...set].map(([k, t]) => [k, toOrtTensor(t)]));
      reference = (await runAtLevels(readFileSync(path), feeds, ['disabled'])).get('disabled')!;
    });

    for (const rules of builtinRuleNames()) {
      it(`${rules}: loads and runs at disabled, basic, extended, all; every level agrees with disabled within the quantization's error`, async () => {
        const dir = join(out, rules);
        await compile({ model: path, rules, outDir: dir, calibSets: '0', ...quiet });
        const file = join(dir, 'model.onnx');
        const compiled = loadModel(file);
        // Keys rotated by a transform_config leave the graph turned back: compared where they are on the grid.
        const runs = new Map([...(await runAtLevels(readFileSync(file), feeds))].map(([l, o]) => [l, inRotatedSpace(compiled, o)]));
        expect([...runs.keys()]).toEqual(['disabled', 'basic', 'extended', 'all']);
        const steps = gridSteps(compiled, await computedScaleMaxima(compiled, feeds));
        // every present.* is dequantized (on the grid); logits are not
        expect([...steps.keys()].sort()).toEqual(Object.keys(reference).filter((o) => o.startsWith('present.')).sort());
        const checks = levelChecks(runs, inRotatedSpace(compiled, reference), steps, dynamicGridOutputs(compiled));
        expect(checks.length).toBe(3 * Object.keys(reference).length);
        for (const c of checks) {
          const what = `${c.output} at ${c.level}`;
          // The quantization changes every output (logits and each present.*).
          expect(c.quantError, what).toBeGreaterThan(0);
          expect(c.error, what).toBeLessThanOrEqual(c.bound);
          if (steps.has(c.output)) expect(c.differing, what).toBeLessThanOrEqual(FLIP_FRACTION);
        }
      });
    }
  });
}
