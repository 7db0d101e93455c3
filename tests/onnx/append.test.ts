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

describe('appendToGraph', () => {
  for (const [name, rules] of [
    ['llama-gqa-bytes-ts-eager', 'fp8-head'],
    ['llama-gqa-bytes-dynamo-op23', 'int8-head'],
  ] as const) {
    it(`${name}: observers appended to the file's bytes = the observer graph encoded whole`, () => {
      const file = corpusModel(name);
      const m = loadModel(file);
      const g = m.graph;
      const before = { nodes: g.nodes.length, outputs: g.outputs.length, initializers: g.initializers.length };
      insertObservers(m, quantEdges(planSites(loadRuleSet(rules), findSites(m, ATTENTION_PATTERNS).sites)));
      const added = { nodes: g.nodes.slice(before.nodes), outputs: g.outputs.slice(before.outputs), initializers: g.initializers.slice(before.initializers) };
      expect(added.nodes.length).toBeGreaterThan(24);
      const merged = decodeModel(appendToGraph(readFileSync(file), added), { file: 'merged' });
      verifyModel(merged);
      expect(merged.graph.nodes.length).toBe(g.nodes.length);
      expect(merged.graph.outputs.map((v) => v.name)).toEqual(g.outputs.map((v) => v.name));
      expect(Buffer.compare(Buffer.from(bytesOf(merged)), Buffer.from(bytesOf(m)))).toBe(0);
    });
  }
});
