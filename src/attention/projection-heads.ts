/**
 * Heads from the projection weights, for exports whose head reshape uses runtime sizes (the
 * TorchScript export of `view(*input_shape, -1, head_dim)` when the hidden states' shape is not
 * known statically): the head axis of Q is then not static, but the projection that feeds the
 * head split states its width, and the width is heads × head size:
 *
 *   x ─ MatMul(W [hidden, H·D]) ─[Add bias]─ Reshape([b, s, −1, D]) ─ Transpose ─[RoPE, norm]─▶ Q [B, ?, S, D]
 *                └ or Gemm(W, transB) [H·D, hidden]
 *
 * H = width / D, with D the reshape's constant last entry or its output's static last dimension
 * (a fused QKV reshaped to [B, S, H, 3·D], as GPT-NeoX does before cutting Q, K and V from the
 * last axis, gives width 3·H·D over 3·D: H again). Partial rotary (a Slice of the head
 * dimension, rotated, joined again) is walked through. What was read, or why nothing could be,
 * is said in `tried`, so the error that follows names it.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { Op } from '../onnx/ops.js';
import type { ShapeFacts } from '../shapes/static-shapes.js';

/** Ops between the head reshape and the attention's Q/K/V edge: layout, rotary, per-head norms, casts. */
const TO_RESHAPE = new Set(['Transpose', 'Add', 'Mul', 'Sub', 'Neg', 'Concat', 'Slice', 'Split', 'Identity', 'Cast', 'RotaryEmbedding', 'SimplifiedLayerNormalization', 'RMSNormalization', 'LayerNormalization', 'Div']);

export interface ProjectionHeads {
  readonly heads: number | undefined;
  /** What was read (for the error message when heads stay unknown). */
  readonly tried: string;
}

/** The head Reshape ([B, S, H·D] → [B, S, H, D]) above `edge`, walking back through TO_RESHAPE ops. */
function headReshape(edge: Value, facts: ShapeFacts, maxDepth = 12): Node | undefined {
  const seen = new Set<Value>();
  const visit = (v: Value | undefined, depth: number): Node | undefined => {
    if (v === undefined || depth > maxDepth || seen.has(v)) return undefined;
    seen.add(v);
    const p = v.producer();
    if (p === undefined || p.op.domain !== '') return undefined;
    // the head split makes a rank-4 tensor: its shape has 4 entries (constant or not)
    if (p.is(Op.Reshape)) return (facts.shapeEntries(p.inputs[1])?.length ?? facts.dims(p.inputs[1])?.[0]) === 4 ? p : undefined;
    if (!TO_RESHAPE.has(p.op.opType)) return undefined;
    for (const input of p.inputs) {
      if (input === undefined || facts.constTensor(input) !== undefined) continue;
      const r = visit(input, depth + 1);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return visit(edge, 0);
}

/**
 * The size of each head group the reshape makes: its constant last entry, or its output's
 * static last dimension. GPT-NeoX splits [B, S, 3·H·D] into [B, S, H, 3·D] and cuts Q, K and V
 * from the last axis afterwards, so this is not always the head size.
 */
function groupSize(reshape: Node, facts: ShapeFacts): number | undefined {
  const last = facts.shapeEntries(reshape.inputs[1])?.at(-1);
  if (last?.kind === 'const' && last.n > 0) return last.n;
  const d = facts.dims(reshape.output(0))?.at(-1);
  return typeof d === 'number' ? d : undefined;
}

/** The last dimension of a projection output: from its dims, its weight, its bias, or its static cut. */
function projectionWidth(v: Value, facts: ShapeFacts, depth = 0): { width: number; from: string } | undefined {
  const last = facts.dims(v)?.at(-1);
  if (typeof last === 'number') return { width: last, from: 'its static shape' };
  const p = v.producer();
  if (p === undefined || depth > 4) return undefined;
  const weight = p.inputs[1];
  const w = weight === undefined || facts.constTensor(weight) === undefined ? undefined : facts.dims(weight);
  if (p.is(Op.MatMul) && w !== undefined && w.length >= 2 && typeof w.at(-1) === 'number') return { width: w.at(-1) as number, from: `${weight!.name} [${w.join(', ')}]` };
  if (p.is(Op.Gemm) && w?.length === 2) {
    const n = p.intAttr('transB', 0) ? w[0] : w[1];
    if (typeof n === 'number') return { width: n, from: `${weight!.name} [${w.join(', ')}]${p.intAttr('transB', 0) ? ' (transposed)' : ''}` };
  }
  if (p.is(Op.Add)) {
    // a bias [W], or the projection on the other side
    for (const x of p.inputs) {
      if (x === undefined) continue;
      const r = facts.constTensor(x) !== undefined ? (facts.dims(x)?.length === 1 && typeof facts.dims(x)![0] === 'number' ? { width: facts.dims(x)![0] as number, from: `${x.name} (bias)` } : undefined) : projectionWidth(x, facts, depth + 1);
      if (r !== undefined) return r;
    }
  }
  if (p.is(Op.Identity) || p.is(Op.Cast)) return p.inputs[0] ? projectionWidth(p.inputs[0], facts, depth + 1) : undefined;
  return undefined;
}

/** The heads of a [B, H, S, D] or [B, S, H, D] edge, read from the projection that feeds its head reshape. */
export function projectionHeads(edge: Value, facts: ShapeFacts): ProjectionHeads {
  const reshape = headReshape(edge, facts);
  const split = reshape?.inputs[0];
  if (reshape === undefined || split === undefined) return { heads: undefined, tried: `no head Reshape was found above ${edge.name}` };
  const w = projectionWidth(split, facts);
  if (w === undefined) return { heads: undefined, tried: `the width of ${split.name}, which the head Reshape ${reshape.name} splits, is not static and comes from no weight` };
  const group = groupSize(reshape, facts);
  if (group === undefined) return { heads: undefined, tried: `${split.name} is ${w.width} wide (from ${w.from}), but the last size of the head Reshape ${reshape.name} is not static either` };
  const heads = w.width / group;
  if (!Number.isInteger(heads)) return { heads: undefined, tried: `${split.name} is ${w.width} wide (from ${w.from}), not a multiple of ${group}, the last size of the head Reshape ${reshape.name}` };
  return { heads, tried: `${w.width} / ${group} from ${w.from}` };
}
