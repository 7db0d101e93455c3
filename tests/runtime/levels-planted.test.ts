/**
 * The onnxruntime promise beyond the corpus: attention forms the corpus lacks, quantized by
 * every rule set (scales given, distinct per head), load and run at every optimization level
 * and agree with `disabled` within the quantization's error (tests/harness/levels.ts):
 *
 *   - the ONNX Attention op with its cache inside, 4-D and packed 3-D [B, S, H·D], with and
 *     without grouped-query heads (ONNX backend test models);
 *   - planted decomposed blocks: K in BHSD, BSHD and 3-D layouts, Q/K/V from one projection cut
 *     by Split or Slice, a single kv head (whose per-head scale is one element), caches;
 *   - com.microsoft MultiHeadAttention and GroupQueryAttention (packed [B, S, H·D] Q/K/V, the
 *     BHSD cache inside the op; GroupQueryAttention with 2 query heads per kv head), which
 *     onnxruntime's CPU provider runs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomSets } from '../../src/calibrate/random.js';
import { toOrtTensor } from '../../src/calibrate/ort.js';
import type { ort } from '../../src/calibrate/ort.js';
import type { Model } from '../../src/ir/model.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { quantRange } from '../../src/quant/args.js';
import { builtinRuleNames, loadRuleSet } from '../../src/rules/load.js';
import { buildAttentionGraph } from '../harness/attention-blocks.js';
import type { BlockSpec } from '../harness/attention-blocks.js';
import { FLIP_FRACTION, computedScaleMaxima, dynamicGridOutputs, gridSteps, levelChecks, runAtLevels } from '../harness/levels.js';
import { contribAttentionModel } from '../harness/fused-op.js';
import { NODE_TESTS } from '../harness/paths.js';
import { applyRules, bytesOf } from '../harness/rewrite.js';
import { readTensors, testDataSets } from '../harness/test-data.js';

const block = (o: Partial<BlockSpec>): BlockSpec => ({
  heads: 4,
  ratio: 2,
  headDim: 4,
  layout: 'BHSD',
  scale: 'scores-mul',
  mask: 'none',
  cache: true,
  castAfterSoftmax: false,
  nanGuard: false,
  softmaxAxis: -1,
  projection: 'separate',
  mutation: 'none',
  ...o,
});

interface Case {
  readonly name: string;
  readonly model: () => Model;
  readonly feeds: (m: Model) => Record<string, ort.Tensor>;
}

const backend = (test: string): Case => ({
  name: `ONNX Attention op: ${test}`,
  model: () => loadModel(join(NODE_TESTS, test, 'model.onnx')),
  feeds: (m) => {
    const ts = readTensors(testDataSets(join(NODE_TESTS, test))[0]!, 'input');
    return Object.fromEntries(m.graph.inputs.filter((v) => !v.initializer).map((v, i) => [v.name, toOrtTensor(ts[i]!)]));
  },
});

const planted = (name: string, specs: BlockSpec[]): Case => ({
  name: `planted: ${name}`,
  model: () => buildAttentionGraph(specs, [1, 2], { router: false, classifier: false }).model,
  feeds: (m) => Object.fromEntries([...randomSets(m, 1, new Map())[0]!.load()].map(([k, t]) => [k, toOrtTensor(t)])),
});

const contrib = (op: 'mha' | 'gqa'): Case => ({
  name: `com.microsoft ${op === 'mha' ? 'MultiHeadAttention' : 'GroupQueryAttention'}, cache inside`,
  model: () => contribAttentionModel(op).model,
  feeds: () => Object.fromEntries([...contribAttentionModel(op).inputs].map(([k, t]) => [k, toOrtTensor(t)])),
});

const CASES: Case[] = [
  backend('test_attention_4d_with_past_and_present'),
  backend('test_attention_4d_gqa_with_past_and_present'),
  backend('test_attention_3d_gqa_with_past_and_present'),
  backend('test_attention_3d_with_past_and_present'),
  planted('BHSD cache, GQA 2:1, fused QKV cut by Split; BSHD without cache', [block({ projection: 'split' }), block({ layout: 'BSHD', ratio: 1, heads: 2, cache: false })]),
  planted('3-D keys, Slice projection; one kv head (MQA 4:1)', [block({ layout: 'BHSD3d', projection: 'slice', cache: false }), block({ heads: 4, ratio: 4, scale: 'scores-div', mask: 'add' })]),
  contrib('mha'),
  contrib('gqa'),
];

/** Scales that fit values of magnitude ~3, different for each head and role. */
const scales = (heads: number, role: string, qMax: number): number[] => Array.from({ length: heads }, (_, h) => ((2 + 0.4 * h + (role === 'q' ? 0.5 : role === 'k' ? 0.25 : 0)) / qMax));

for (const c of CASES) {
  describe(c.name, () => {
    for (const rules of builtinRuleNames()) {
      it(`${rules}: loads and runs at every level; each agrees with disabled within the quantization's error`, async () => {
        const float = c.model();
        const feeds = c.feeds(float);
        const reference = (await runAtLevels(bytesOf(float), feeds, ['disabled'])).get('disabled')!;
        const model = c.model();
        const builtin = loadRuleSet(rules);
        // The planted heads are 4 or 8 wide: a dynamic set's groups of 16 become groups of 2.
        const ruleSet = builtin.kvCacheScheme?.dynamic === true ? { ...builtin, kvCacheScheme: { ...builtin.kvCacheScheme, group_size: 2 } } : builtin;
        const { result } = applyRules(model, ruleSet, (e) => scales(e.heads, e.role, quantRange(e.args)[1]));
        expect(result.inserted).toBeGreaterThan(0);
        const runs = await runAtLevels(bytesOf(model), feeds);
        const steps = gridSteps(model, await computedScaleMaxima(model, feeds));
        const checks = levelChecks(runs, reference, steps, dynamicGridOutputs(model));
        expect(checks.length).toBe(3 * Object.keys(reference).length);
        // The quantization changes the attention output.
        expect(Math.max(...checks.map((x) => x.quantError))).toBeGreaterThan(0);
        for (const x of checks) {
          expect(x.error, `${x.output} at ${x.level}`).toBeLessThanOrEqual(x.quantError === 0 ? 0 : x.bound);
          if (steps.has(x.output)) expect(x.differing, `${x.output} at ${x.level}`).toBeLessThanOrEqual(FLIP_FRACTION);
        }
      });
    }
  });
}
