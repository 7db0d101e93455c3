/**
 * Helpers for rewrite tests: apply a rule set with given scales (no calibration), replace QDQ
 * pairs by identity, run a model in onnxruntime.
 */
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { insertQdq } from '../../passes/insert-qdq.js';
import type { QdqResult } from '../../passes/insert-qdq.js';
import { insertDynamicQdq } from '../../passes/insert-dynamic-qdq.js';
import { findSites } from '../../src/attention/find-sites.js';
import { createSession, toOrtTensor } from '../../src/calibrate/ort.js';
import type { ort } from '../../src/calibrate/ort.js';
import type { Model } from '../../src/ir/model.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeModel } from '../../src/onnx/serde.js';
import { concatChunks } from '../../src/onnx/wire.js';
import type { QuantEdge } from '../../src/quant/edges.js';
import { quantEdges } from '../../src/quant/edges.js';
import type { QParams } from '../../src/quant/qparams.js';
import type { RuleSet } from '../../src/rules/schema.js';
import { planSites } from '../../src/rules/targets.js';

export function bytesOf(m: Model): Uint8Array {
  const e = encodeModel(m);
  return concatChunks(e.chunks, e.size);
}

/**
 * Apply a rule set as compile does, without calibration: calibrated edges get scales from
 * `scaleOf(edge)` (per head, or one per tensor), dynamic edges their in-graph scales.
 */
export function applyRules(model: Model, rules: RuleSet, scaleOf: (e: QuantEdge) => number[]): { result: Omit<QdqResult, 'skipped'>; edges: QuantEdge[] } {
  const { sites } = findSites(model, ATTENTION_PATTERNS);
  const edges = quantEdges(planSites(rules, sites));
  const calibrated = edges.filter((e) => !e.args.dynamic);
  const qparams = calibrated.map((e): QParams => {
    const s = scaleOf(e);
    const n = e.args.strategy === 'attn_head' ? e.heads : 1;
    return { scale: Float32Array.from({ length: n }, (_, i) => s[i % s.length]!), zeroPoint: new Int32Array(n) };
  });
  const a = insertQdq(model, calibrated.map((edge, i) => ({ edge, qparams: qparams[i]! })));
  const b = insertDynamicQdq(model, edges.filter((e) => e.args.dynamic));
  return { result: { modified: a.modified || b.modified, inserted: a.inserted + b.inserted }, edges };
}

/** The QuantizeLinear nodes of Q→DQ pairs (not those that only compute a dynamic zero point). */
export function pairQuantizers(model: Model): number {
  return [...model.allNodes()].filter((n) => n.is(Op.QuantizeLinear) && n.output(0).uses().some((u) => u.node.is(Op.DequantizeLinear) && u.index === 0)).length;
}

/** Replace every QuantizeLinear→DequantizeLinear pair by a plain edge (graph outputs keep their names). */
export function removeQdq(model: Model): number {
  const g = model.graph;
  let removed = 0;
  for (const dq of [...g.nodes]) {
    if (!dq.is(Op.DequantizeLinear)) continue;
    const q = dq.inputs[0]?.producer();
    if (!q?.is(Op.QuantizeLinear)) continue;
    const x = q.inputs[0]!;
    const y = dq.output(0);
    const outIndex = g.outputs.indexOf(y);
    y.replaceAllUsesWith(x);
    if (outIndex >= 0) {
      const name = y.name;
      y.name = model.names.fresh(`${name}.removed`);
      x.name = name;
      g.setOutput(outIndex, x);
    }
    g.removeNode(dq);
    g.removeNode(q);
    removed++;
  }
  return removed;
}

export async function run(model: Model, inputs: ReadonlyMap<string, Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await createSession(bytesOf(model), { optimization: 'disabled', intraOpThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, t] of inputs) feeds[k] = toOrtTensor(t);
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
