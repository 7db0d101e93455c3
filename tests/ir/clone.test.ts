/**
 * Model.clone(): a copy that encodes byte for byte as the original, whose rewrites leave the
 * original's structure and encoding untouched, and whose tensors share the original's storage.
 * (That every ONNX backend node test model clones to its own bytes is checked in
 * tests/onnx/backend.test.ts, which decodes them all anyway.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { insertObservers } from '../../passes/insert-observers.js';
import { findSites } from '../../src/attention/find-sites.js';
import { GraphCopier } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/model.js';
import { Node } from '../../src/ir/node.js';
import { Value } from '../../src/ir/value.js';
import { verifyModel } from '../../src/ir/verify.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { valuesOf } from '../harness/graph-walk.js';
import { buildGraph, graphSpec } from '../harness/random-graph.js';
import { NODE_TESTS, corpusModel } from '../harness/paths.js';
import { applyRules, bytesOf } from '../harness/rewrite.js';

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** A structural fingerprint that bytes would not show: use lists (node name, index) in order, per value. */
function useLists(m: Model): string[] {
  return [...valuesOf(m.graph)].map((v) => `${v.name}<-${v.producer()?.name ?? '-'}:${v.uses().map((u) => `${u.node.name}#${u.index}`).join(',')}`);
}

describe('Model.clone', () => {
  it('subgraphs of the clone refer to the clone\'s outer values (If, Loop, Scan), and verify', () => {
    for (const name of ['test_if', 'test_loop11', 'test_scan9_sum', 'test_scan_sum']) {
      const m = loadModel(join(NODE_TESTS, name, 'model.onnx'));
      const c = m.clone();
      verifyModel(c, name);
      const originals = valuesOf(m.graph);
      for (const n of c.allNodes()) {
        for (const v of n.inputs) if (v !== undefined) expect(originals.has(v)).toBe(false);
        expect(n.graph).toBeDefined();
      }
      expect([...c.allNodes()].length).toBe([...m.allNodes()].length);
    }
  });

  it('keeps every use list in the original order, and the copier maps each value and node to its copy', () => {
    const m = loadModel(corpusModel('llama-gqa-bytes-ts-eager'));
    // Reverse one value's use order so that node order alone would not reproduce it.
    const x = m.graph.nodes.map((n) => n.output(0)).find((v) => v.uses().length >= 2)!;
    const uses = x.uses();
    for (const u of uses) u.node.replaceInput(u.index, undefined);
    for (const u of [...uses].reverse()) u.node.replaceInput(u.index, x);
    const copier = new GraphCopier();
    const c = m.clone(copier);
    expect(useLists(c)).toEqual(useLists(m));
    const cx = copier.valueOf(x);
    expect(cx === x).toBe(false); // not .not.toBe: on objects it deep-compares two whole graphs for its message
    // Identity, element by element (a deep toEqual on nodes would walk the whole graph).
    const expected = x.uses().map((u) => copier.nodeOf(u.node));
    expect(cx.uses().length).toBe(expected.length);
    cx.uses().forEach((u, i) => expect(u.node === expected[i]).toBe(true));
    expect(x.uses().length).toBeGreaterThanOrEqual(2);
    expect(cx.graph).toBe(c.graph);
    expect(() => copier.valueOf(new Value('stranger'))).toThrow(/stranger is not part of the copied graphs/);
  });

  it('shares tensor storage: the same storage object and the same bytes in memory, never a copy', () => {
    const m = loadModel(corpusModel('gpt2-bytes-ts-eager'));
    const c = m.clone();
    expect(c.graph.initializers.length).toBe(m.graph.initializers.length);
    let bytes = 0;
    m.graph.initializers.forEach((v, i) => {
      const t = v.initializer!;
      const ct = c.graph.initializers[i]!.initializer!;
      expect(ct === t).toBe(false);
      expect(ct.storage).toBe(t.storage);
      const a = t.bytes();
      const b = ct.bytes();
      expect(b.buffer).toBe(a.buffer);
      expect(b.byteOffset).toBe(a.byteOffset);
      bytes += a.byteLength;
    });
    expect(bytes).toBeGreaterThan(100_000);
  });

  for (const [name, rules] of [
    ['llama-gqa-bytes-ts-eager', 'fp8-head'],
    ['llama-gqa-bytes-dynamo-op23', 'int4-kv-head'],
    ['gpt2-bytes-ts-eager', 'int8-head'],
  ] as const) {
    it(`${name}: observers and QDQ (${rules}) on the clone leave the original byte for byte as read`, () => {
      const file = corpusModel(name);
      const m = loadModel(file);
      const structure = useLists(m);
      const c = m.clone();
      const edges = quantEdges(planSites(loadRuleSet(rules), findSites(c, ATTENTION_PATTERNS).sites));
      expect(edges.length).toBeGreaterThan(0);
      insertObservers(c, edges);
      const { result } = applyRules(c, loadRuleSet(rules), (e) => Array.from({ length: e.heads }, (_, h) => 0.01 * (h + 1)));
      expect(result.inserted).toBeGreaterThan(0);
      c.metadataProps.push(['ctc', 'clone']);
      c.opsetImports.set('com.example', 1);
      c.graph.initializers[0]!.name = 'renamed_in_clone';
      verifyModel(c);
      expect(same(bytesOf(c), readFileSync(file))).toBe(false);
      expect(same(bytesOf(m), readFileSync(file))).toBe(true);
      expect(useLists(m)).toEqual(structure);
      expect(m.graph.initializers[0]!.initializer!.name).not.toBe('renamed_in_clone');
      verifyModel(m);
    });
  }

  it('the clone hands out the same fresh names as the original would, and its own afterwards', () => {
    const m = buildGraph({ inputs: 1, inits: [], nodes: [{ op: 0, picks: [0, 0], attr: 0 }], outputs: [0] });
    m.names.fresh('t');
    const c = m.clone();
    expect(c.names.fresh('t')).toBe(m.names.fresh('t'));
    expect(c.names.fresh('t')).toBe('t_2');
    expect(m.names.has('t_2')).toBe(false);
  });

  it('random graphs: the clone encodes as the original; removing, rewiring and renaming in the clone leaves the original as it was', () => {
    fc.assert(
      fc.property(graphSpec, fc.nat(), (spec, pick) => {
        const m = buildGraph(spec, { attributes: true });
        const before = bytesOf(m);
        const structure = useLists(m);
        const c = m.clone();
        expect(same(bytesOf(c), before)).toBe(true);
        const g = c.graph;
        const victim = g.nodes[pick % g.nodes.length]!;
        const x = victim.inputs[0]!;
        const neg = new Node(Op.Neg, [x], [new Value(c.names.fresh('neg'))], [], c.names.fresh('neg'));
        g.insertBefore(victim, [neg]);
        victim.output(0).replaceAllUsesWith(neg.output(0));
        const out = g.outputs.indexOf(victim.output(0));
        if (out >= 0) g.setOutput(out, neg.output(0));
        g.removeNode(victim);
        x.name = `${x.name}_renamed`;
        verifyModel(c);
        expect(same(bytesOf(m), before)).toBe(true);
        expect(useLists(m)).toEqual(structure);
        verifyModel(m);
      }),
      { numRuns: 200 },
    );
  });
});
