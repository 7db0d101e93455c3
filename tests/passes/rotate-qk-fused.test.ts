/**
 * rotate-qk where the attention op concatenates the cache itself (the ONNX backend tests of
 * `Attention` with past_key/past_value inputs and present outputs, 3-D packed and 4-D, GQA):
 * past keys rotated as they enter, new keys rotated, the op's present keys turned back. With
 * quantization off the outputs (Y, present_key, present_value, qk_matmul_output) are the original
 * model's in onnxruntime, within float error. The `_expanded` variants are decomposed graphs.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateQk } from '../../passes/rotate-qk.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { toOrtTensor } from '../../src/calibrate/ort.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { NODE_TESTS } from '../harness/paths.js';
import { readTensors } from '../harness/test-data.js';
import { powerOfTwoBlock, r3Rotation, runAsFloat64 } from '../harness/r3.js';

const names = existsSync(NODE_TESTS) ? readdirSync(NODE_TESTS).filter((d) => /^test_attention_.*with_past_and_present/.test(d) && !d.endsWith('_expanded')) : [];

describe('rotate-qk on the Attention op with its cache inside', () => {
  it('the backend tests are there', () => expect(names.length).toBeGreaterThanOrEqual(10));
  for (const name of names) {
    it(name, async () => {
      const dir = join(NODE_TESTS, name);
      const model = loadModel(join(dir, 'model.onnx'));
      const sites = findSites(model, ATTENTION_PATTERNS).sites;
      expect(sites).toHaveLength(1);
      const site = sites[0]!;
      expect(site.kPast).toBeDefined();
      const r = rotateQk(model, new Map([[site, r3Rotation(powerOfTwoBlock(site.headDim))]]), 'float');
      expect(r.rotated.size).toBe(3); // Q, new K, past K
      const set = join(dir, 'test_data_set_0');
      const inputs = readTensors(set, 'input');
      const feeds = Object.fromEntries(model.graph.inputs.filter((v) => v.initializer === undefined).map((v, i) => [v.name, toOrtTensor(inputs[i]!)]));
      const want = await runAsFloat64(readFileSync(join(dir, 'model.onnx')), feeds);
      const got = await runAsFloat64(model, feeds);
      // float16 models round the rotated values to float16 (about 5e-4 relative)
      const tolerance = inputs.some((t) => t.dataType === DataType.FLOAT16) ? 3e-3 : 1e-4;
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [name, b] of Object.entries(want)) {
        const a = got[name]!;
        expect(a.length, name).toBe(b.length);
        let scale = 1e-6;
        let d = 0;
        for (let k = 0; k < b.length; k++) {
          if (a[k] === b[k] || (Number.isNaN(a[k]!) && Number.isNaN(b[k]!))) continue; // the same infinity or NaN (masked scores)
          scale = Math.max(scale, Math.abs(b[k]!));
          d = Math.max(d, Math.abs(a[k]! - b[k]!));
        }
        expect(d / scale, name).toBeLessThan(tolerance);
      }
    });
  }
});
