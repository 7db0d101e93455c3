/**
 * center-k on a sample of the export zoo (every third model, so that the suite stays short):
 * each model whose attention sites ctc finds, rotated (R3) and centered with an offset that is
 * different for every kv head, quantization off, still computes its stored float outputs
 * (output_K.pb, onnxruntime on the original) within float error. Sites where the offset would
 * show (soft-capped scores, scores leaving the op, keys that also feed DeBERTa's position-to-content
 * product) are left as center-k's whyNotCentered says.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { centerK, whyNotCentered } from '../../passes/center-k.js';
import { rotateQk } from '../../passes/rotate-qk.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { powerOfTwoBlock, r3Rotation } from '../harness/r3.js';
import { bytesOf } from '../harness/rewrite.js';
import { ZOO, outputErrors, zooModels } from './zoo.js';

describe('zoo sample: rotated and centered keys, quantization off, the same outputs', () => {
  const centered: string[] = [];
  const sample = zooModels().filter((m, i) => i % 3 === 0 || m.family === 'deberta_v2');
  for (const m of sample) {
    it(m.name, async () => {
      const model = loadModel(join(ZOO, m.name, 'model.onnx'));
      let found;
      try {
        found = findSites(model, ATTENTION_PATTERNS).sites;
      } catch {
        return; // a site ctc refuses: tests/zoo/inspect.test.ts and expected-failures.json pin why
      }
      const why = (s: (typeof found)[number]) => whyNotCentered(s, (v) => model.graph.outputs.includes(v));
      // DeBERTa's position-to-content term multiplies the keys by position queries: an offset would not cancel there
      if (m.family === 'deberta_v2') for (const s of found) expect(why(s), s.name).toMatch(/its keys feed 2 products .*DeBERTa/);
      const sites = found.filter((s) => s.q !== undefined && why(s) === undefined);
      if (sites.length === 0) return;
      const rotations = new Map(sites.map((s) => [s, r3Rotation(powerOfTwoBlock(s.headDim))]));
      const { rotated } = rotateQk(model, rotations, 'float');
      const offsets = new Map(sites.map((s) => [s, Float64Array.from({ length: s.numKvHeads * s.headDim }, (_, i) => 0.5 * (Math.floor(i / s.headDim) + 1) + 0.05 * Math.cos(i))]));
      expect(centerK(model, offsets, rotated, 'float').centered.size).toBeGreaterThanOrEqual(sites.length);
      // the zoo has no external data: the model's bytes are the whole model
      for (const e of await outputErrors(m, bytesOf(model))) expect(e.relRms, `${e.output} set ${e.set}`).toBeLessThan(1e-5);
      centered.push(m.name);
    });
  }
  it('the sampled zoo models with sites were centered (27 of 40 when this was written)', () => {
    expect(centered.length).toBeGreaterThanOrEqual(20);
  });
});
