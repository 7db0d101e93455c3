/**
 * Attention over batched matmuls with the heads folded into the batch axis (torch.bmm /
 * baddbmm on [B·H, S, D]), as BLOOM (ALiBi) and DeBERTa (disentangled attention) write it:
 *
 *   Q [B, H, S, D] ─ Reshape ─ [B·H, S, D] ─[Mul|Div c]──────────────────────────┐
 *   K [B, H, T, D] ─ Reshape ─ [B·H, T, D] ─ Transpose(0,2,1) ─[Mul|Div c]─ MatMul ─[Mul|Div c]─[Add bias]─┐
 *     (the cache Concat and the grouped-query repeat looked through, as in decomposed.ts)                 │
 *   ┌─ Reshape ─ [B, H, S, T] ─ scale, softcap, bias, mask, Softmax (decomposed.ts) ─ Reshape ─ [B·H, S, T]┘
 *   │                                                                                        │
 *   V [B, H, T, D] ─ Reshape ─ [B·H, T, D] ─────────────────────────────────────────── MatMul ──▶ Y [B·H, S, D]
 *
 *   bias=add: a term added to the folded scores: ALiBi (BLOOM's baddbmm), DeBERTa's c2p/p2c
 *   position terms (computed from the same Q and K: they see the quantized Q and K too).
 *   Q, K and V are quantized on the [B, H, ·, D] tensors before the fold, where axis 1 is the
 *   head: the folded [B·H, S, D] tensors mix batch and heads on one axis, and a per-head scale
 *   cannot be placed there.
 *
 * Rejected (near misses): a fold whose input is not rank 4 (no per-head tensor to quantize: the
 * reason says so, and the site is reported as not taken); a fold that changes the head size; a
 * Transpose of K on other axes; the rank-4 rejections of decomposed.ts.
 */
import type { Node } from '../../ir/node.js';
import { Op } from '../../onnx/ops.js';
import { any, node, oneOf, skip } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import { activation, PASS_THROUGH, permIs, probabilitiesFrom, scaleOf, siteFromMatch } from './decomposed.js';
import type { AttentionPattern, PatternOutcome } from './pattern.js';

/** A Reshape from [B, H, S, D] to [B·H, S, D]: rank 4 to rank 3, the head size kept. */
const foldsHeads: NodeCheck = refuses('fold-not-per-head', (n, facts) => {
  const from = facts.dims(n.inputs[0]);
  const to = facts.dims(n.output(0));
  if (from === undefined || from.length !== 4) {
    return `Reshape ${n.name} folds ${n.inputs[0]?.name ?? 'its input'} (rank ${from?.length ?? 'unknown'}) into a batched matmul operand: there is no [B, H, S, D] tensor with a head axis to quantize per head`;
  }
  if (to !== undefined && to.length !== 3) return `Reshape ${n.name} gives rank ${to.length}, not the [B·H, S, D] of a batched matmul`;
  const d = from[3];
  const e = to?.[2];
  return typeof d === 'number' && typeof e === 'number' && d !== e ? `Reshape ${n.name} changes the last axis from ${d} to ${e}: not a fold of the heads into the batch` : undefined;
});

/** A Reshape from [B·H, S, T] back to [B, H, S, T] (or a rank-4 tensor to rank 3, for the probabilities). */
const rankChange = (from: number, to: number): NodeCheck =>
  refuses('unfold-rank', (n, facts) => {
    const a = facts.dims(n.inputs[0])?.length;
    const b = facts.dims(n.output(0))?.length;
    return (a === undefined || a === from) && (b === undefined || b === to) ? undefined : `Reshape ${n.name} goes from rank ${a} to rank ${b}, not ${from} to ${to}`;
  });

const fold = (capture: string) => node(Op.Reshape, [any(capture, activation), any()], { capture: `${capture}Fold`, check: foldsHeads });

const keyTransposed = node(Op.Transpose, [fold('k')], { check: permIs([0, 2, 1]) });

const batchedScores = node(Op.MatMul, [scaleOf('queryScale', fold('q')), scaleOf('keyScale', keyTransposed)], { capture: 'scores' });

const foldedScaled = scaleOf('foldedScale', batchedScores);

/** The folded scores back in [B, H, S, T], with the terms added while folded. */
export const unfoldedScores = node(
  Op.Reshape,
  [
    oneOf('foldedBias', {
      add: node(Op.Add, [skip(PASS_THROUGH, foldedScaled), any('bias')], { commute: true }),
      none: foldedScaled,
    }),
    any(),
  ],
  { check: rankChange(3, 4) },
);

const foldedProbabilities = node(Op.Reshape, [probabilitiesFrom(unfoldedScores), any()], { check: rankChange(4, 3) });

const foldedHeadsPattern = node(Op.MatMul, [foldedProbabilities, fold('v')], { capture: 'output' });

export const foldedHeadsAttention: AttentionPattern = {
  name: 'folded-heads',
  anchors: [Op.MatMul],
  match(anchor: Node, facts: ShapeFacts): PatternOutcome {
    // DeBERTa's position terms read the folded Q and K too: the folds are not internal to the block.
    return siteFromMatch(anchor, matchPattern(foldedHeadsPattern, anchor.output(0), facts), facts, ['qFold', 'kFold', 'vFold']);
  },
};
