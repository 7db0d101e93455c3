/**
 * The pass contract (passes/pass.ts): every pass of passes/ is registered under its file's name;
 * `modified` is false when the pass has nothing to do and true when it changed something;
 * `inPlace` is truthful (a pass that is not in place leaves its input byte for byte as it was);
 * an error thrown inside a pass names the passes that ran before it and keeps its class.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PASSES, centerKPass, insertObserversPass, insertQdqPass, rotateQkPass, upgradeOpsetPass } from '../../passes/index.js';
import { qdqNeeds } from '../../passes/insert-qdq.js';
import { PassPipeline } from '../../passes/pass.js';
import type { Pass, PassResult } from '../../passes/pass.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { CtcError } from '../../src/errors.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import type { OpId } from '../../src/onnx/ops.js';
import type { QuantEdge } from '../../src/quant/edges.js';
import { quantEdges } from '../../src/quant/edges.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import { blockSpec, buildAttentionGraph } from '../harness/attention-blocks.js';
import type { BlockSpec } from '../harness/attention-blocks.js';
import { ROOT } from '../harness/paths.js';
import { bytesOf } from '../harness/rewrite.js';
import fc from 'fast-check';
import { r3Rotation } from '../harness/r3.js';

/** An op no pass or pattern handles, so not in the op table. */
const DFT: OpId = { domain: '', opType: 'DFT' };

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** One planted attention block (opset 17) and the edges fp8-head quantizes on it. */
function planted(): { model: Model; edges: QuantEdge[] } {
  const spec: BlockSpec = fc.sample(blockSpec, { numRuns: 1, seed: 7 })[0]!;
  const model = buildAttentionGraph([spec], [], { router: false, classifier: false }).model;
  return { model, edges: quantEdges(planSites(loadRuleSet('fp8-head'), findSites(model, ATTENTION_PATTERNS).sites)) };
}

const qdqInputs = (edges: readonly QuantEdge[]) =>
  edges.map((edge) => ({ edge, qparams: { scale: Float32Array.from({ length: edge.heads }, (_, h) => 0.01 * (h + 2)), zeroPoint: new Int32Array(edge.heads) } }));

describe('the pass contract', () => {
  it('every file of passes/ is a registered pass of that name', () => {
    const files = readdirSync(join(ROOT, 'passes'))
      .filter((f) => f.endsWith('.ts') && f !== 'pass.ts' && f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(PASSES.map((p) => p.name).sort()).toEqual(files);
    expect(PASSES.map((p) => [p.name, p.inPlace])).toEqual([
      ['upgrade-opset', true],
      ['insert-observers', false],
      ['insert-qdq', true],
      ['insert-dynamic-qdq', true],
      ['cache-io', true],
      ['rotate-qk', true],
      ['center-k', true],
    ]);
  });

  it('rotate-qk: modified only when a site is rotated; in place', () => {
    const { model } = planted();
    const before = bytesOf(model);
    expect(rotateQkPass.run(model, new Map(), 'float').modified).toBe(false);
    expect(same(bytesOf(model), before)).toBe(true);
    const site = findSites(model, ATTENTION_PATTERNS).sites[0]!;
    const r = rotateQkPass.run(model, new Map([[site, r3Rotation(site.headDim)]]), 'float');
    expect(r.modified).toBe(true);
    expect(r.rotated.size).toBe(2);
    expect(same(bytesOf(model), before)).toBe(false);
  });

  it('center-k: modified only when a site is centered; in place', () => {
    const { model } = planted();
    const before = bytesOf(model);
    expect(centerKPass.run(model, new Map(), new Map(), 'float').modified).toBe(false);
    expect(same(bytesOf(model), before)).toBe(true);
    const site = findSites(model, ATTENTION_PATTERNS).sites[0]!;
    const r = centerKPass.run(model, new Map([[site, Float64Array.from({ length: site.numKvHeads * site.headDim }, (_, i) => i + 1)]]), new Map(), 'float');
    expect(r.modified).toBe(true);
    expect(r.centered.size).toBe(1);
    expect(same(bytesOf(model), before)).toBe(false);
  });

  it('upgrade-opset: modified only when the opset (or IR version) goes up; in place', () => {
    const { model } = planted();
    const before = bytesOf(model);
    expect(upgradeOpsetPass.run(model, 17, model.irVersion).modified).toBe(false);
    expect(upgradeOpsetPass.run(model, 13, model.irVersion).modified).toBe(false);
    expect(same(bytesOf(model), before)).toBe(true);
    expect(upgradeOpsetPass.run(model, 19, model.irVersion).modified).toBe(true);
    expect(model.opsetVersion('')).toBe(19);
    expect(same(bytesOf(model), before)).toBe(false);
  });

  it('insert-observers: not in place (the input keeps its bytes); modified only when there are edges', () => {
    const { model, edges } = planted();
    expect(edges.length).toBe(3);
    const before = bytesOf(model);
    const none = insertObserversPass.run(model, []);
    expect(none.modified).toBe(false);
    expect(none.observers).toEqual([]);
    expect(same(bytesOf(none.model), before)).toBe(true);
    const some = insertObserversPass.run(model, edges);
    expect(some.modified).toBe(true);
    expect(some.model === model).toBe(false);
    expect(some.added.nodes.length).toBeGreaterThan(0);
    expect(same(bytesOf(some.model), before)).toBe(false);
    expect(same(bytesOf(model), before)).toBe(true);
  });

  it('insert-qdq: in place; modified when pairs go in, not when every edge already has its pair or there is none', () => {
    const { model, edges } = planted();
    expect(insertQdqPass.run(model, []).modified).toBe(false);
    const first = insertQdqPass.run(model, qdqInputs(edges));
    expect(first).toMatchObject({ modified: true, inserted: 3, skipped: 0 });
    const after = bytesOf(model);
    expect(model.graph.nodes.filter((n) => n.is(Op.QuantizeLinear)).length).toBe(3);
    const second = insertQdqPass.run(model, qdqInputs(edges));
    expect(second).toMatchObject({ modified: false, inserted: 0, skipped: 3 });
    expect(same(bytesOf(model), after)).toBe(true);
  });

  it('qdqNeeds: what upgrade-opset must reach before insert-qdq (fp8 per head: opset 19), never below the model', () => {
    const { model, edges } = planted();
    expect(qdqNeeds(model, qdqInputs(edges))).toEqual({ opset: 19, irVersion: 9 });
    expect(qdqNeeds(model, [])).toEqual({ opset: 17, irVersion: model.irVersion });
  });
});

describe('a pass pipeline', () => {
  /** A model with a DFT node at opset 17: raising it past 20 changes DFT's meaning, so upgrade-opset refuses. */
  function withDft(): { model: Model; edges: QuantEdge[] } {
    const p = planted();
    const b = new GraphBuilder(p.model);
    const signal = b.input('signal', DataType.FLOAT, [1, 8, 1]);
    b.output(b.op(DFT, [signal], [], 'dft'), 'spectrum');
    return p;
  }

  it("a pass's error names the passes that ran before it and keeps its class (a user's error stays a CtcError)", () => {
    const { model, edges } = planted();
    const refusing: Pass<[], PassResult> = {
      name: 'refusing',
      inPlace: true,
      run: () => {
        throw new CtcError('the model uses an op this pass cannot convert');
      },
    };
    const passes = new PassPipeline();
    passes.run(insertObserversPass, model, edges);
    passes.run(insertQdqPass, model, []);
    let caught: unknown;
    try {
      passes.run(refusing, model);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CtcError);
    expect((caught as Error).message).toBe('refusing failed after insert-observers, insert-qdq: the model uses an op this pass cannot convert');
    expect(passes.history).toEqual(['insert-observers', 'insert-qdq']);
  });

  it('the first pass says so; an internal error stays internal (not a CtcError) and keeps its stack', () => {
    const broken: Pass<[], PassResult> = {
      name: 'broken',
      inPlace: true,
      run: () => {
        throw new TypeError('x is undefined');
      },
    };
    const { model } = planted();
    const passes = new PassPipeline();
    let caught: unknown;
    try {
      passes.run(broken, model);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(caught).not.toBeInstanceOf(CtcError);
    expect((caught as Error).message).toBe('broken failed as the first pass: x is undefined');
    expect((caught as Error).stack).toMatch(/contract\.test\.ts/);
    passes.run(upgradeOpsetPass, model, 17, model.irVersion);
    expect(() => passes.run(broken, model)).toThrow(/^broken failed after upgrade-opset: x is undefined$/);
  });
});
