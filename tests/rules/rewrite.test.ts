/**
 * The rule tester: on every corpus model and every built-in rule set, the rewritten graph
 * verifies, runs in onnxruntime and keeps its input/output names; applying the rule set twice
 * equals applying it once; and with every QDQ pair replaced by identity the outputs are
 * bit-identical to the original model's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyModel } from '../../src/ir/verify.js';
import type { ort } from '../../src/calibrate/ort.js';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { builtinRuleNames, loadRuleSet } from '../../src/rules/load.js';
import { CORPUS, corpusModel } from '../harness/paths.js';
import { applyRules, bytesOf, pairQuantizers, removeQdq, run } from '../harness/rewrite.js';

const models = Object.keys((JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: object }).models);
const floatBytes = (t: { data: unknown }): Buffer => Buffer.from((t.data as Float32Array).buffer);
const scales = (e: { heads: number; role: string }): number[] => Array.from({ length: e.heads }, (_, h) => 0.02 * (h + 1) * (e.role === 'v' ? 0.5 : 1));

describe('rule tester: every corpus model × every rule set', () => {
  for (const name of models) {
    // The float model's outputs on set 0: the same for every rule set, so run once per model.
    let reference: Promise<Record<string, ort.Tensor>> | undefined;
    for (const ruleName of builtinRuleNames()) {
      it(`${name} × ${ruleName}`, async () => {
        const rules = loadRuleSet(ruleName);
        const original = loadModel(corpusModel(name));
        const model = loadModel(corpusModel(name));
        const { result, edges } = applyRules(model, rules, scales);
        if (edges.length === 0) {
          // Only a kv-cache rule on a model without a cache (BERT) quantizes nothing.
          expect(rules.kvCacheScheme).not.toBeNull();
          expect(name).toBe('bert-random-ts-eager');
          expect(result.modified).toBe(false);
          expect(Buffer.compare(Buffer.from(bytesOf(model)), readFileSync(corpusModel(name)))).toBe(0);
          return;
        }
        expect(result.modified).toBe(true);
        verifyModel(model);
        expect(model.graph.inputs.map((v) => v.name)).toEqual(original.graph.inputs.map((v) => v.name));
        expect(model.graph.outputs.map((v) => v.name)).toEqual(original.graph.outputs.map((v) => v.name));
        const pairs = pairQuantizers(model);
        // a dynamic rule set's pairs are blocked, with scales computed in the graph
        const blocked = [...model.allNodes()].filter((n) => n.is(Op.QuantizeLinear) && n.attr('block_size') !== undefined).length;
        expect(blocked).toBe(rules.kvCacheScheme?.dynamic === true ? pairs : 0);
        expect(pairs).toBe(result.inserted);
        const tensors = edges.reduce((s, e) => s + e.tensors.length, 0);
        expect(pairs).toBe(tensors);

        // twice == once
        const once = bytesOf(model);
        const again = applyRules(model, rules, scales);
        expect(again.result.modified).toBe(false);
        expect(Buffer.compare(Buffer.from(bytesOf(model)), Buffer.from(once))).toBe(0);

        // it runs, and quantization changes the outputs
        const inputs = testDataSets(original, findDataSets(corpusModel(name), [], '0'))[0]!.load();
        const quantized = await run(model, inputs);
        reference ??= run(original, inputs);
        const referenceOutputs = await reference;
        for (const out of original.graph.outputs) {
          expect(Array.from(quantized[out.name]!.data as Float32Array).every(Number.isFinite)).toBe(true);
        }
        // QDQ replaced by identity: bit-identical to the original
        expect(removeQdq(model)).toBe(pairs);
        const plain = await run(model, inputs);
        for (const out of original.graph.outputs) {
          expect(floatBytes(plain[out.name]!).equals(floatBytes(referenceOutputs[out.name]!)), `${out.name} with QDQ removed`).toBe(true);
        }
        // and the quantized model does differ from the float one
        const main = original.graph.outputs[0]!.name;
        expect(floatBytes(quantized[main]!).equals(floatBytes(referenceOutputs[main]!))).toBe(false);
      });
    }
  }
});
