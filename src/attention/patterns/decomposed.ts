/**
 * Decomposed attention: softmax(Q·Kᵀ·scale + mask)·V written out with MatMul and Softmax, as
 * the TorchScript exporter, the dynamo exporter below opset 23 and HF "eager" attention write it.
 *
 *   Q ─[Mul|Div c]──────────┐
 *                           MatMul ─[Mul|Div c]─[Add mask | Where(m, ·, fill)]─[Cast]*─ Softmax(last axis)
 *   Kᵀ ─[Mul|Div c]─────────┘                                                               │
 *                                                  ┌─[Cast]*─[Where(IsNaN(p), 0, p)]─[Cast]*─┘
 *                                                  MatMul ──▶ Y
 *   V ─[GQA repeat]─[cache Concat]─────────────────┘
 *
 *   Kᵀ: keyLayout=BHSD    Transpose(K, perm=[0,1,3,2])              K is [B, H, S, D]
 *       keyLayout=BSHD    Transpose(K, perm=[0,2,3,1])              K is [B, S, H, D] (BERT)
 *       keyLayout=BHSD3d  Reshape(Transpose(Reshape(K), [0,2,1]))   dynamo's 3-D transpose of [B, H, S, D]
 *   The scale may sit on the scores, on Q, or as √scale on both Q and K (on Kᵀ as the dynamo
 *   exporter writes it, or on K before its transpose as the ONNX FlexAttention body does); it is a
 *   constant or computed from shapes only (1/√head_size from Shape), never from activations.
 *   After the softmax, exporters may guard fully masked rows: Where(IsNaN(p), 0, p) (dynamo)
 *   or Where(row_all_masked, 0, p) (the ONNX Attention function body).
 *   K and V: the grouped-query repeat (Unsqueeze→Expand→Reshape) and the cache Concat are
 *   looked through, so their QDQ goes on the cache (past + new) with kv_heads heads.
 *   cache=window: present is the last positions of the Concat (sliding-window-cache.ts).
 *
 * Rejected (near misses): a Softmax on another axis; a second MatMul operand that is not a
 * transposed activation (a router or a classifier head multiplies by weights); scores or
 * probabilities that are also used outside the block; a Q that is not rank 4.
 */
import type { Node } from '../../ir/node.js';
import type { Value } from '../../ir/value.js';
import { Op } from '../../onnx/ops.js';
import { any, constant, node, oneOf, skip } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck, Pattern, ValueCheck } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { MatchResult } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import { stripRepeat } from './gqa-repeat.js';
import { matchCache } from './kv-cache.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';
import { edge, failed } from './pattern.js';

export const permIs = (perm: readonly number[]): NodeCheck =>
  refuses('transpose-perm', (n) => {
    const p = n.intsAttr('perm');
    return p !== undefined && p.length === perm.length && p.every((x, i) => x === perm[i]) ? undefined : `Transpose ${n.name} has perm [${p}], not [${perm}]`;
  });

const lastAxis: NodeCheck = refuses('softmax-axis-not-last', (n, facts) => {
  const opset13Default = -1;
  const axis = n.intAttr('axis', opset13Default);
  if (axis === -1) return undefined;
  const rank = facts.dims(n.inputs[0])?.length;
  if (rank !== undefined && axis === rank - 1) return undefined;
  return `Softmax ${n.name} is on axis ${axis}, not the last axis`;
});

export const activation: ValueCheck = refuses('operand-is-weights', (v, facts) =>
  facts.constTensor(v) !== undefined ? `${v.name} is a constant (weights), not an activation: this MatMul is not attention` : undefined,
);

/** Ops that pass values through unchanged in value (casts to float, Identity). */
export const PASS_THROUGH = [Op.Cast, Op.Identity];

const shapeDerived: ValueCheck = refuses('scale-from-activation', (v, facts) => (facts.isShapeDerived(v) ? undefined : `${v.name} is an activation, not a scale`));

export const scaleOf = (tag: string, x: Pattern): Pattern =>
  oneOf(tag, {
    mul: node(Op.Mul, [x, any(undefined, shapeDerived)], { commute: true }),
    div: node(Op.Div, [x, any(undefined, shapeDerived)]),
    none: x,
  });

const keyTransposed = oneOf('keyLayout', {
  BHSD: node(Op.Transpose, [scaleOf('keyScaleBeforeTranspose', any('k', activation))], { check: permIs([0, 1, 3, 2]) }),
  BSHD: node(Op.Transpose, [any('k', activation)], { check: permIs([0, 2, 3, 1]) }),
  BHSD3d: node(Op.Reshape, [node(Op.Transpose, [node(Op.Reshape, [any('k', activation), any()])], { check: permIs([0, 2, 1]) }), any()]),
});

const scores = node(Op.MatMul, [scaleOf('queryScale', any('q', activation)), scaleOf('keyScale', keyTransposed)], { capture: 'scores' });

/** Where(IsNaN(p), 0, p): the dynamo exporter's guard for fully masked rows. */
const nanGuardCheck: NodeCheck = refuses('where-not-nan-guard', (n) => (n.inputs[0]?.producer()?.inputs[0] === n.inputs[2] ? undefined : `Where ${n.name} is not a NaN guard of its own input`));
const zero: ValueCheck = refuses('fill-not-zero', (v, facts) => (facts.constScalar(v) === 0 ? undefined : `${v.name} is not the constant 0`));

/**
 * From the scores (rank 4, [B, H, S, T]) to the probabilities that multiply V: scale, softcap,
 * bias, mask, Softmax, NaN guard, probability scale. Shared with folded-heads.ts, whose scores
 * come back from [B·H, S, T].
 */
export function probabilitiesFrom(scores: Pattern): Pattern {
  /** CodeGen adds the mask before it scales: (Q·Kᵀ + mask) / √d. */
  const unscaled = oneOf('maskBeforeScale', {
    add: node(Op.Add, [skip(PASS_THROUGH, scores), any('mask')], { commute: true }),
    none: skip(PASS_THROUGH, scores),
  });

  const scaled = scaleOf('scoreScale', unscaled);

  /** softcap · tanh(scores / softcap) (Gemma 2, the ONNX Attention softcap attribute). */
  const softcapped = oneOf('softcap', {
    tanh: node(Op.Mul, [node(Op.Tanh, [node(Op.Div, [scaled, any(undefined, shapeDerived)])]), any(undefined, shapeDerived)], { commute: true }),
    none: scaled,
  });

  /** A position bias added to the scores before the mask: ALiBi (MPT), T5's relative position bias. */
  const biased = oneOf('bias', {
    add: node(Op.Add, [skip(PASS_THROUGH, softcapped), any('bias')], { commute: true }),
    none: softcapped,
  });

  const masked = oneOf('mask', {
    add: node(Op.Add, [skip(PASS_THROUGH, biased), any('mask')], { commute: true }),
    where: node(Op.Where, [any('mask'), skip(PASS_THROUGH, biased), any()]),
    // masked_fill(mask, fill): the fill, a constant, is the second input (MPT).
    whereFill: node(Op.Where, [any('mask'), constant(), skip(PASS_THROUGH, biased)]),
    none: biased,
  });

  const softmax = node(Op.Softmax, [skip(PASS_THROUGH, masked)], { capture: 'softmax', check: lastAxis });

  const guarded = oneOf('nanGuard', {
    isNaN: node(Op.Where, [node(Op.IsNaN, [any()]), constant(), skip(PASS_THROUGH, softmax)], { check: nanGuardCheck }),
    maskedRows: node(Op.Where, [any(), any(undefined, zero), skip(PASS_THROUGH, softmax)]),
    none: softmax,
  });

  /** FlexAttention's prob_mod, inlined: the probabilities times a constant (never an activation). */
  return skip(PASS_THROUGH, scaleOf('probabilityScale', skip(PASS_THROUGH, guarded)));
}

export const decomposedPattern = node(Op.MatMul, [probabilitiesFrom(scores), any('v', activation)], { capture: 'output' });

/** Find the values (cache Concat or not) where K or V is quantized: before the repeat. */
function kvSource(v: Value, facts: ShapeFacts): { value: Value; repeated: boolean; factor?: number; cache: ReturnType<typeof matchCache> } {
  const r = stripRepeat(v, facts);
  const cache = matchCache(r.source, facts);
  return { value: r.source, repeated: r.repeated, ...(r.factor !== undefined ? { factor: r.factor } : {}), cache };
}

/**
 * The site a match of a pattern whose captures are q, k, v (rank 4) and scores describes: K and
 * V traced back through the grouped-query repeat to the cache. Shared with folded-heads.ts.
 * `operandNodes`: captured nodes that only reshape Q, K or V on their way in; other computation
 * may read their outputs too (it then reads the quantized Q, K or V), so they are not internal.
 */
export function siteFromMatch(anchor: Node, r: MatchResult, facts: ShapeFacts, operandNodes: readonly string[] = []): PatternOutcome {
  if (!r.ok) return failed(r.id, r.reason, r.depth);
  const b = r.bindings;
  const tags = Object.fromEntries(b.tags);
  const q = b.values.get('q')!;
  const qRank = facts.dims(q)?.length ?? facts.dims(b.values.get('scores'))?.length;
  if (qRank !== undefined && qRank !== 4) return failed('query-not-rank-4', `Q (${q.name}) has rank ${qRank}; ctc places per-head QDQ on rank-4 [B, H, S, D] attention only`);
  const keyLayout = tags['keyLayout'] === 'BSHD' ? 'BSHD' : 'BHSD';
  const k = kvSource(b.values.get('k')!, facts);
  const v = kvSource(b.values.get('v')!, facts);
  if (keyLayout === 'BSHD' && (k.repeated || k.cache)) return failed('bshd-key-with-cache-or-repeat', 'a [B, S, H, D] key with a cache or grouped-query repeat is not a form ctc knows');
  if (k.cache === undefined !== (v.cache === undefined)) return failed('cache-on-one-side', 'only one of K and V has a cache Concat; ctc needs both or neither');
  const cache = k.cache && v.cache ? { pastKey: k.cache.past.name, presentKey: k.cache.present, pastValue: v.cache.past.name, presentValue: v.cache.present } : null;
  const kValue = b.values.get('k')!;
  const factor = k.factor ?? v.factor;
  return {
    ok: true,
    site: {
      q: edge(q, 'BHSD'),
      k: edge(k.value, keyLayout),
      v: edge(v.value, 'BHSD'),
      cache,
      variant: { ...tags, cache: cache ? (k.cache!.window ? 'window' : 'concat') : 'none' },
      internal: [...b.matched].filter((n) => n !== anchor && !operandNodes.some((c) => b.nodes.get(c) === n)),
      output: anchor.output(0),
      // After the repeat, K has the query's head count.
      queryHeadHints: k.repeated ? [edge(kValue, 'BHSD')] : [],
      ...(factor !== undefined ? { repeatFactor: factor } : {}),
    },
  };
}

export const decomposedAttention: AttentionPattern = {
  name: 'decomposed',
  anchors: [Op.MatMul],
  match(anchor: Node, facts: ShapeFacts): PatternOutcome {
    return siteFromMatch(anchor, matchPattern(decomposedPattern, anchor.output(0), facts), facts);
  },
};
