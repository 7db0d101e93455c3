/**
 * Opset and IR are raised only as far as the chosen types need: float8 QDQ needs opset 19 and
 * IR 9, int4 needs 21 and IR 10, int8 per-axis needs 13 (so an opset-17 model stays as it is).
 * Raising past 18 rewrites ReduceMean's axes attribute into an input.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { corpusModel } from '../harness/paths.js';
import { applyRules } from '../harness/rewrite.js';

const cases: [string, string, number, number][] = [
  ['llama-gqa-bytes-ts-eager', 'int8-head', 17, 8],
  ['llama-gqa-bytes-ts-eager', 'fp8-head', 19, 9],
  ['llama-gqa-bytes-ts-eager', 'int4-kv-tensor', 21, 10],
  ['llama-gqa-bytes-dynamo-op23', 'fp8-head', 23, 10],
  ['llama-gqa-bytes-dynamo-op23', 'int4-kv-head', 23, 10],
];

describe('opset and IR version after the rewrite', () => {
  for (const [model, rules, opset, ir] of cases) {
    it(`${model} × ${rules} -> opset ${opset}, IR ${ir}`, () => {
      const m = loadModel(corpusModel(model));
      applyRules(m, loadRuleSet(rules), (e) => new Array(e.heads).fill(0.1));
      expect([m.opsetVersion(''), m.irVersion]).toEqual([opset, ir]);
      const reduces = m.graph.nodes.filter((n) => n.is(Op.ReduceMean));
      for (const n of reduces) {
        if (opset >= 18) expect([n.attributes.has('axes'), n.inputs.length]).toEqual([false, 2]);
        else expect(n.attributes.has('axes')).toBe(true);
      }
    });
  }
});
