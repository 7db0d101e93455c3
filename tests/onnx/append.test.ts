/**
 * appendToGraph: a model file's bytes followed by a ModelProto holding only new nodes, outputs
 * and initializers parse (protobuf merges the two graphs) as the model with those additions:
 * byte for byte what encoding the modified model gives.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { insertObservers } from '../../passes/insert-observers.js';
import { findSites } from '../../src/attention/find-sites.js';
import { verifyModel } from '../../src/ir/verify.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { appendToGraph, decodeModel } from '../../src/onnx/serde.js';
import { quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { corpusModel } from '../harness/paths.js';
import { bytesOf } from '../harness/rewrite.js';
import { observerGraph } from '../../src/compile.js';
import { readModelFile } from '../../src/onnx/model-file.js';

describe('appendToGraph', () => {
  for (const [name, rules] of [
    ['llama-gqa-bytes-ts-eager', 'fp8-head'],
    ['llama-gqa-bytes-dynamo-op23', 'int8-head'],
  ] as const) {
    it(`${name}: observers appended to the file's bytes = the observer graph encoded whole`, () => {
      const file = corpusModel(name);
      const m = loadModel(file);
      const g = m.graph;
      const { added } = insertObservers(m, quantEdges(planSites(loadRuleSet(rules), findSites(m, ATTENTION_PATTERNS).sites)));
      expect(added.nodes.length).toBeGreaterThan(24);
      const merged = decodeModel(appendToGraph(readFileSync(file), added), { file: 'merged' });
      verifyModel(merged);
      expect(merged.graph.nodes.length).toBe(g.nodes.length);
      expect(merged.graph.outputs.map((v) => v.name)).toEqual(g.outputs.map((v) => v.name));
      expect(Buffer.compare(Buffer.from(bytesOf(merged)), Buffer.from(bytesOf(m)))).toBe(0);
    });
  }

  it("compile's observer graph (observers on a clone, edges carried over) = observers on a second decode of the file, and the model is left as read", () => {
    const file = corpusModel('gpt2-bytes-ts-eager');
    const rules = loadRuleSet('int8-head');
    const { model, bytes } = readModelFile(file);
    const edges = quantEdges(planSites(rules, findSites(model, ATTENTION_PATTERNS).sites));
    const observed = observerGraph(model, bytes, edges);
    const second = loadModel(file);
    const { added, observers } = insertObservers(second, quantEdges(planSites(rules, findSites(second, ATTENTION_PATTERNS).sites)));
    expect(Buffer.compare(Buffer.from(observed.bytes), Buffer.from(appendToGraph(readFileSync(file), added)))).toBe(0);
    expect(observed.observers).toEqual(observers);
    expect(Buffer.compare(Buffer.from(bytesOf(model)), readFileSync(file))).toBe(0);
  });
});
