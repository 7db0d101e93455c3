/**
 * One attention block over batched matmuls with the heads folded into the batch axis, built
 * from the tags of src/attention/patterns/folded-heads.ts (Q, K, V, the bias and the mask are
 * graph inputs; scales are constants):
 *
 *   q [1, H, S, D] ─ Reshape [H, S, D] ─[queryScale]───────────────────────────────┐
 *   k [1, H, T, D] ─[cache Concat]─ Reshape [H, T, D] ─ Transpose(0,2,1) ─[keyScale]─ MatMul ─[foldedScale]─[foldedBias]─┐
 *   ┌─ Reshape [1, H, S, T] ─[mask]─ Softmax ─ Reshape [H, S, T] ────────────────────────────────────────────────────────┘
 *   v [1, H, T, D] ─[cache Concat]─ Reshape [H, T, D] ───────────────── MatMul ─ Reshape [1, H, S, D] ─▶ y
 *
 * Shown for B = 1; with `batch` B the folds are [B·H, ·, D], the bias [B·H, S, T] and the unfold [B, H, S, T].
 */
import { intAttr, intsAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';

type Scale = 'mul' | 'div' | 'none';

export interface FoldedBlock {
  readonly queryScale: Scale;
  readonly keyScale: Scale;
  readonly foldedScale: Scale;
  /** A [H, S, T] input added to the folded scores (ALiBi, DeBERTa's position terms). */
  readonly foldedBias: 'add' | 'none';
  /** whereFill: masked_fill(mask, -1e4) on the unfolded scores. */
  readonly mask: 'add' | 'whereFill' | 'none';
  /** past_key / past_value inputs concatenated before the fold. */
  readonly cache: boolean;
  /** Near misses: Q already [H, S, D] (no per-head tensor); K transposed on other axes; the fold of Q splits the head size. */
  readonly query: 'perHead' | 'alreadyFolded' | 'headSizeSplit';
  readonly keyPerm: readonly number[];
  readonly batch: number;
}

export const FOLDED_PLAIN: FoldedBlock = {
  queryScale: 'none',
  keyScale: 'none',
  foldedScale: 'mul',
  foldedBias: 'none',
  mask: 'none',
  cache: false,
  query: 'perHead',
  keyPerm: [0, 2, 1],
  batch: 1,
};

export const FH = 3;
export const FD = 4;
export const FS = 2;
export const FP = 2;

/** The constants the block multiplies by, for an independent reference. */
export const FOLDED_SCALES = { query: 0.7, key: 0.9, folded: 0.6, fill: -1e4 };

export interface BuiltFoldedBlock {
  readonly model: Model;
  /** The P·V MatMul: the pattern's anchor. */
  readonly anchor: Node;
  /** Q, K and V before their folds (K and V after the cache Concat). */
  readonly q: Value;
  readonly k: Value;
  readonly v: Value;
  readonly T: number;
}

export function foldedBlock(o: Partial<FoldedBlock> = {}): BuiltFoldedBlock {
  const c: FoldedBlock = { ...FOLDED_PLAIN, ...o };
  const model = emptyModel({ '': 17 });
  const b = new GraphBuilder(model);
  const T = c.cache ? FP + FS : FS;
  const B = c.batch;
  let n = 0;
  const scalar = (v: number): Value => b.constF32(`c${n++}`, [], [v]);
  const scaled = (x: Value, how: Scale, v: number): Value => (how === 'mul' ? b.op(Op.Mul, [x, scalar(v)]) : how === 'div' ? b.op(Op.Div, [x, scalar(1 / v)]) : x);
  const shape = (dims: readonly number[]): Value => b.constI64(`shape${n++}`, [dims.length], dims);
  const fold = (x: Value, rows: number, dims = [B * FH, rows, FD]): Value => b.op(Op.Reshape, [x, shape(dims)]);
  const kv = (name: 'key' | 'value'): Value => {
    const x = b.input(`${name}_new`, DataType.FLOAT, [B, FH, FS, FD]);
    if (!c.cache) return x;
    const cache = b.op(Op.Concat, [b.input(`past_${name}`, DataType.FLOAT, [B, FH, FP, FD]), x], [intAttr('axis', -2)]);
    return b.output(cache, `present_${name}`);
  };
  let q: Value;
  let qFolded: Value;
  if (c.query === 'alreadyFolded') {
    q = b.input('q', DataType.FLOAT, [B * FH, FS, FD]);
    qFolded = b.op(Op.Reshape, [q, shape([B * FH, FS, FD])]);
  } else {
    q = b.input('q', DataType.FLOAT, [B, FH, FS, FD]);
    qFolded = c.query === 'headSizeSplit' ? fold(q, FS, [B * FH * 2, FS, FD / 2]) : fold(q, FS);
  }
  const k = kv('key');
  const v = kv('value');
  const kT = b.op(Op.Transpose, [fold(k, T)], [intsAttr('perm', [...c.keyPerm])]);
  let x = b.op(Op.MatMul, [scaled(qFolded, c.queryScale, FOLDED_SCALES.query), scaled(kT, c.keyScale, FOLDED_SCALES.key)]);
  x = scaled(x, c.foldedScale, FOLDED_SCALES.folded);
  if (c.foldedBias === 'add') x = b.op(Op.Add, [b.input('bias', DataType.FLOAT, [B * FH, FS, T]), x]);
  x = b.op(Op.Reshape, [x, shape([B, FH, FS, T])]);
  if (c.mask === 'add') x = b.op(Op.Add, [x, b.input('mask', DataType.FLOAT, [B, 1, FS, T])]);
  if (c.mask === 'whereFill') x = b.op(Op.Where, [b.input('masked', DataType.BOOL, [B, 1, FS, T]), scalar(FOLDED_SCALES.fill), x]);
  const p = b.op(Op.Reshape, [b.op(Op.Softmax, [x], [intAttr('axis', -1)]), shape([B * FH, FS, T])]);
  const y = b.op(Op.MatMul, [p, fold(v, T)]);
  b.output(b.op(Op.Reshape, [y, shape([B, FH, FS, FD])]), 'y');
  return { model, anchor: y.producer()!, q, k, v, T };
}
