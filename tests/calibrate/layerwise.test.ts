/**
 * Layer-by-layer calibration (--layerwise, --max-device-memory) against the whole-graph run on the
 * same sets: the statistics must be the same numbers, to the bit. Spreading sets over devices
 * (--devices) must hand results back in set order.
 */
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { calibrateLayerwise } from '../../src/calibrate/layerwise.js';
import type { Session } from '../../src/calibrate/ort.js';
import { partitionByLayers, tensorBytes } from '../../src/calibrate/partition.js';
import { calibrate, overDevices } from '../../src/calibrate/run.js';
import { CtcError } from '../../src/errors.js';
import { observerGraph } from '../../src/compile.js';
import { readModelFile } from '../../src/onnx/model-file.js';
import { insertObservers } from '../../passes/insert-observers.js';
import { quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

function setup(name: string, rules: string, observer?: string) {
  const path = corpusModel(name);
  const { model, bytes } = readModelFile(path);
  const r = loadRuleSet(rules);
  const withObs = observer ? { ...r, kvCacheScheme: r.kvCacheScheme ? { ...r.kvCacheScheme, observer } : null } : r;
  const edges = quantEdges(planSites(withObs as typeof r, findSites(model, ATTENTION_PATTERNS).sites));
  return { path, model, bytes, edges, sets: testDataSets(model, findDataSets(path, [], '0-2')), providers: ['cpu'] as const, ...quiet };
}

/** The whole-graph run on the observer graph compile builds. */
const whole = (s: ReturnType<typeof setup>) => calibrate({ ...s, modelPath: s.path, graph: observerGraph(s.model, s.bytes, s.edges) });

describe('layer-by-layer calibration equals the whole-graph run', () => {
  const cases: [string, string, string?][] = [
    ['llama-gqa-bytes-ts-eager', 'fp8-head'],
    ['llama-gqa-bytes-ts-eager', 'int4-kv-head', 'mse'],
    ['llama-gqa-bytes-dynamo-op23', 'fp8-kv-head'],
    ['gpt2-bytes-ts-eager', 'int8-head'],
    ['qwen2-random-ts-eager', 'fp8-head'],
    ['bert-random-ts-eager', 'fp8-tensor'],
  ];
  it.each(cases)('%s, %s %s', async (name, rules, observer) => {
    const reference = await whole(setup(name, rules, observer));
    const parts: number[] = [];
    const layered = await calibrateLayerwise({ ...setup(name, rules, observer), modelPath: corpusModel(name), observe: insertObservers, onPart: (_i, _p, n) => parts.push(n) });
    expect(parts.length).toBeGreaterThan(1);
    expect(layered).toEqual(reference);
  });

  it('groups layers under a weight budget, and still gives the same numbers', async () => {
    const s = setup('llama-gqa-bytes-ts-eager', 'fp8-head');
    const total = s.model.graph.initializers.reduce((n, v) => n + tensorBytes(v.initializer!), 0);
    const one = partitionByLayers(s.model.graph, s.edges);
    const grouped = partitionByLayers(s.model.graph, s.edges, Math.ceil(total * 0.6));
    expect(one.length).toBe(4);
    expect(grouped.length).toBe(2);
    expect(grouped.every((p) => p.weightBytes <= total * 0.6)).toBe(true);
    // Every node is in exactly one part, in order; every edge is observed in exactly one.
    expect(grouped.map((p) => [p.start, p.end])).toEqual([[0, grouped[0]!.end], [grouped[0]!.end, s.model.graph.nodes.length]]);
    expect(grouped.flatMap((p) => p.edges).sort((a, b) => a - b)).toEqual(s.edges.map((_, i) => i));
    // What one part hands on is what the next receives.
    expect(grouped[0]!.carriedOut).toEqual(grouped[1]!.carriedIn);
    const reference = await whole(s);
    const layered = await calibrateLayerwise({ ...setup('llama-gqa-bytes-ts-eager', 'fp8-head'), modelPath: s.path, observe: insertObservers, budgetBytes: Math.ceil(total * 0.6) });
    expect(layered).toEqual(reference);
  });

  it('a budget below one layer is a user error that names the size needed', () => {
    const s = setup('llama-gqa-bytes-ts-eager', 'fp8-head');
    expect(() => partitionByLayers(s.model.graph, s.edges, 1000)).toThrow(CtcError);
    expect(() => partitionByLayers(s.model.graph, s.edges, 1000)).toThrow(/raise it to at least/);
  });
});

describe('sets spread over devices', () => {
  it('device k runs sets k, k+n, … in order, all devices at once, and results come back in set order', async () => {
    const log: string[] = [];
    const fake = (d: number | undefined): Session => ({
      inputNames: [],
      outputNames: [],
      provider: 'cuda',
      run: async () => ({}),
      release: async () => void log.push(`release ${d}`),
    });
    const sessions = new Map<Session, number>();
    const results = await overDevices([3, 5], async (d) => {
      const s = fake(d);
      sessions.set(s, d!);
      return s;
    }, 7, async (session, i) => {
      await new Promise((r) => setTimeout(r, (7 - i) * 2));
      return `set ${i} on ${sessions.get(session)}`;
    });
    expect(results).toEqual(['set 0 on 3', 'set 1 on 5', 'set 2 on 3', 'set 3 on 5', 'set 4 on 3', 'set 5 on 5', 'set 6 on 3']);
    expect(log.sort()).toEqual(['release 3', 'release 5']);
  });
});

describe('ctc compile --layerwise / --max-device-memory / --devices', () => {
  it('refuses --devices without the CUDA provider, and sizes it cannot read', async () => {
    const m = corpusModel('llama-gqa-bytes-ts-eager');
    const a = await ctc('compile', m, '--rules', 'fp8-head', '-o', '/tmp/ctc-never', '--devices', '0,1');
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/--ep cuda/);
    const b = await ctc('compile', m, '--rules', 'fp8-head', '-o', '/tmp/ctc-never', '--ep', 'cuda', '--devices', '0,0');
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/distinct GPU numbers/);
    const c = await ctc('compile', m, '--rules', 'fp8-head', '-o', '/tmp/ctc-never', '--max-device-memory', 'lots');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/24G/);
  });
});
