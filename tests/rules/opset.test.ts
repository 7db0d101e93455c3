/**
 * Opset and IR are raised only as far as the chosen types need: float8 QDQ needs opset 19 and
 * IR 9, int4 needs 21 and IR 10, int8 per-axis needs 13 (so an opset-17 model stays as it is).
 * Raising past 18 rewrites ReduceMean's axes attribute into an input.
 *
 * Every edge gets its own scales, distinct per layer, role and head, and each QuantizeLinear
 * must carry exactly its edge's scales in head order: per head, H values on the head axis
 * (axis 1 of [B, H, S, D]); per tensor, the one value repeated along the last axis (D = 32).
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import type { QuantEdge } from '../../src/quant/edges.js';
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

/** Scale of head h of an edge: 1.25^layer · (1 + h/8) · (q 0.01, k 0.02, v 0.03), all distinct and float32-exact. */
const scaleOf = (e: QuantEdge, h: number): number => Math.fround(1.25 ** e.layer * (1 + h / 8) * { q: 0.01, k: 0.02, v: 0.03 }[e.role]);

describe('opset and IR version after the rewrite', () => {
  for (const [model, rules, opset, ir] of cases) {
    it(`${model} × ${rules} -> opset ${opset}, IR ${ir}; each edge's own scales in head order`, () => {
      const m = loadModel(corpusModel(model));
      const { edges } = applyRules(m, loadRuleSet(rules), (e) => Array.from({ length: e.heads }, (_, h) => scaleOf(e, h)));
      expect([m.opsetVersion(''), m.irVersion]).toEqual([opset, ir]);
      const reduces = m.graph.nodes.filter((n) => n.is(Op.ReduceMean));
      for (const n of reduces) {
        if (opset >= 18) expect([n.attributes.has('axes'), n.inputs.length]).toEqual([false, 2]);
        else expect(n.attributes.has('axes')).toBe(true);
      }
      // 4 layers × (K, V, and Q when the rule set quantizes it); heads 6 for Q, 2 for K and V (GQA)
      expect(edges.map((e) => `${e.layer}${e.role}${e.heads}`)).toEqual(
        [0, 1, 2, 3].flatMap((l) => (rules.startsWith('int4-kv') ? [`${l}k2`, `${l}v2`] : [`${l}q6`, `${l}k2`, `${l}v2`])),
      );
      for (const e of edges) {
        const x = e.tensors[0]!.value;
        const q = x.uses().find((u) => u.node.is(Op.QuantizeLinear) && u.index === 0)!.node;
        const stored = Array.from(q.inputs[1]!.initializer!.toFloat32());
        if (e.args.strategy === 'attn_head') {
          expect([q.intAttr('axis'), stored]).toEqual([1, Array.from({ length: e.heads }, (_, h) => scaleOf(e, h))]);
        } else {
          expect([q.intAttr('axis'), stored]).toEqual([3, new Array(32).fill(scaleOf(e, 0))]);
        }
      }
    });
  }
});
