/**
 * One decomposed attention block built from the tags of the decomposed pattern, so a test can
 * ask for exactly the alternative it wants (Q, K, V and the masks are graph inputs; scales are
 * constants):
 *
 *   q ─[queryScale]──────────────────────────────────────────────────┐
 *   k ─[cache Concat]─[cacheCast]─[GQA repeat]─[keyScaleBeforeTranspose]─ Kᵀ (keyLayout) ─[keyScale]─ MatMul
 *     ─[maskBeforeScale]─[scoreScale]─[softcap]─[bias]─[mask]─ Softmax(axis) ─[nanGuard]─[probabilityScale]─ MatMul ─▶ y
 *   v ─[cache Concat]─[cacheCast]─[GQA repeat]───────────────────────────────────────────────────┘
 *
 * The cache Concat is the present output, or (window) a Slice of its last positions is.
 */
import { intAttr, intsAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';

type Scale = 'mul' | 'div' | 'none';

export interface DecomposedBlock {
  readonly keyLayout: 'BHSD' | 'BSHD' | 'BHSD3d';
  readonly queryScale: Scale;
  readonly keyScaleBeforeTranspose: Scale;
  readonly keyScale: Scale;
  readonly scoreScale: Scale;
  readonly softcap: 'tanh' | 'none';
  /** A mask added before the scale: (Q·Kᵀ + mask) / c (CodeGen). */
  readonly maskBeforeScale: 'add' | 'none';
  /** A position bias added before the mask (ALiBi, T5's relative bias): a [1, H, S, T] input. */
  readonly bias: 'add' | 'none';
  /** whereFill: masked_fill, Where(mask, fill, scores); fillFromInput makes the fill an activation (a near miss). */
  readonly mask: 'add' | 'where' | 'whereFill' | 'fillFromInput' | 'none';
  readonly nanGuard: 'isNaN' | 'maskedRows' | 'none';
  readonly probabilityScale: Scale;
  /** The past of the cache, as the kv-cache pattern's pastForm names it. */
  readonly cache: 'input' | 'wrapped' | 'padded' | 'none';
  /**
   * How the graph reads the past (the kv-cache pattern's pastRead): as is, or (ctc's --cache-io
   * quantized) an int8 input through DequantizeLinear and its guard Max(d, d); 'notGuard' reads
   * it through Max(d, past) instead (a near miss).
   */
  readonly pastRead: 'plain' | 'dequantized' | 'notGuard';
  /** A Cast of the cache to its own type after the Concat, which present then is (GPT-J TorchScript); 'int' casts to int32 (a near miss). */
  readonly cacheCast: 'float' | 'int' | 'none';
  /** Concat axis of the cache (a near miss when not the sequence axis). */
  readonly cacheAxis: number;
  readonly repeat: boolean;
  /** The repeat's Reshape left out for K, merged into the 3-D reshape of keyLayout BHSD3d (dynamo, static shapes). */
  readonly mergedRepeat: boolean;
  /** Unsqueeze axis of the repeat (a near miss when not 2). */
  readonly repeatAxis: number;
  readonly softmaxAxis: number;
  /** V without the cache K has (a near miss). */
  readonly uncachedValue: boolean;
  /**
   * present as a sliding window of the cache: Slice(cache, starts [windowStart], ends [INT64_MAX],
   * axes [windowAxis], steps [windowStep] when 'steps') and through Identity when 'identity'.
   */
  readonly window: 'none' | 'steps' | 'noSteps' | 'identity';
  readonly windowStart: number;
  readonly windowAxis: number;
  readonly windowStep: number;
  /** The past first cut to its last positions too (a sliding-window layer's first update). */
  readonly pastWindow: 'none' | 'steps' | 'noSteps';
}

export const PLAIN: DecomposedBlock = {
  keyLayout: 'BHSD',
  queryScale: 'none',
  keyScaleBeforeTranspose: 'none',
  keyScale: 'none',
  scoreScale: 'mul',
  softcap: 'none',
  maskBeforeScale: 'none',
  bias: 'none',
  mask: 'none',
  nanGuard: 'none',
  probabilityScale: 'none',
  cache: 'none',
  pastRead: 'plain',
  cacheCast: 'none',
  cacheAxis: -2,
  repeat: false,
  mergedRepeat: false,
  repeatAxis: 2,
  softmaxAxis: -1,
  uncachedValue: false,
  window: 'none',
  windowStart: -3,
  windowAxis: -2,
  windowStep: 1,
  pastWindow: 'none',
};

export const H = 4;
export const D = 2;
const S = 3;
const P = 2;
/** What TorchScript writes for an open end (`x[:, :, -n:]`). */
const INT64_MAX = 9223372036854775807n;

export interface BuiltBlock {
  readonly model: Model;
  /** The P·V MatMul: the decomposed pattern's anchor. */
  readonly anchor: Node;
  /** K as the attention reads it (after the cache and the repeat), and its source. */
  readonly kRead: Value;
  readonly kCache: Value | undefined;
}

export function decomposedBlock(o: Partial<DecomposedBlock> = {}): BuiltBlock {
  const c: DecomposedBlock = { ...PLAIN, ...o };
  const model = emptyModel({ '': 17 });
  const b = new GraphBuilder(model);
  const kvHeads = c.repeat ? H / 2 : H;
  const T = c.cache === 'none' ? S : P + S;
  let n = 0;
  const scalar = (v: number): Value => b.constF32(`c${n++}`, [], [v]);
  const scaled = (x: Value, how: Scale, v: number): Value => (how === 'mul' ? b.op(Op.Mul, [x, scalar(v)]) : how === 'div' ? b.op(Op.Div, [x, scalar(1 / v)]) : x);
  const q = scaled(b.input('q', DataType.FLOAT, [1, H, S, D]), c.queryScale, 0.7);
  const kvSource = (name: 'key' | 'value'): { read: Value; cache: Value | undefined } => {
    let x = b.input(`${name}_new`, DataType.FLOAT, [1, kvHeads, S, D]);
    let cache: Value | undefined;
    if (c.cache !== 'none' && !(name === 'value' && c.uncachedValue)) {
      let past = b.input(`past_${name}`, c.pastRead === 'plain' ? DataType.FLOAT : DataType.INT8, [1, kvHeads, P, D]);
      if (c.pastRead !== 'plain') {
        const d = b.op(Op.DequantizeLinear, [past, b.constF32(`past_scale_${name}`, [], [0.05])]);
        past = b.op(Op.Max, [d, c.pastRead === 'dequantized' ? d : b.input(`other_${name}`, DataType.FLOAT, [1, kvHeads, P, D])]);
      }
      if (c.cache === 'wrapped') past = b.op(Op.Concat, [past], [intAttr('axis', c.cacheAxis)]);
      if (c.cache === 'padded') past = b.op(Op.Concat, [past, b.constF32(`empty_${name}`, [1, kvHeads, 0, D], [])], [intAttr('axis', c.cacheAxis)]);
      const lastPositions = (t: Value, steps: boolean): Value => {
        const bounds = [b.constI64(`starts_${name}`, [1], [c.windowStart]), b.initializer(`ends_${name}`, Tensor.fromInt64(`ends_${name}`, [1], [INT64_MAX])), b.constI64(`axes_w_${name}`, [1], [c.windowAxis])];
        if (steps) bounds.push(b.constI64(`steps_${name}`, [1], [c.windowStep]));
        return b.op(Op.Slice, [t, ...bounds]);
      };
      if (c.pastWindow !== 'none') past = lastPositions(past, c.pastWindow === 'steps');
      x = b.op(Op.Concat, [past, x], [intAttr('axis', c.cacheAxis)]);
      if (c.cacheCast !== 'none') x = b.op(Op.Cast, [x], [intAttr('to', c.cacheCast === 'float' ? DataType.FLOAT : DataType.INT32)]);
      if (c.window === 'none') b.output(x, `present_${name}`);
      else {
        const kept = lastPositions(x, c.window !== 'noSteps');
        b.output(c.window === 'identity' ? b.op(Op.Identity, [kept]) : kept, `present_${name}`);
      }
      cache = x;
    }
    if (c.repeat) {
      const u = b.op(Op.Unsqueeze, [x, b.constI64(`axes_${name}`, [1], [c.repeatAxis])]);
      const e = b.op(Op.Expand, [u, b.constI64(`expand_${name}`, [5], [1, kvHeads, 2, T, D])]);
      x = c.mergedRepeat && name === 'key' ? e : b.op(Op.Reshape, [e, b.constI64(`heads_${name}`, [4], [1, H, T, D])]);
    }
    return { read: x, cache };
  };
  // A [B, S, H, D] key has neither cache nor repeat in any export; asked for, it gets them (a near miss).
  const plainBshd = c.keyLayout === 'BSHD' && c.cache === 'none' && !c.repeat;
  const k = plainBshd ? { read: b.input('key_new', DataType.FLOAT, [1, S, H, D]), cache: undefined } : kvSource('key');
  const v = kvSource('value');
  let kT: Value;
  if (c.keyLayout === 'BHSD') kT = b.op(Op.Transpose, [scaled(k.read, c.keyScaleBeforeTranspose, 0.8)], [intsAttr('perm', [0, 1, 3, 2])]);
  else if (c.keyLayout === 'BSHD') kT = b.op(Op.Transpose, [k.read], [intsAttr('perm', [0, 2, 3, 1])]);
  else {
    const flat = b.op(Op.Reshape, [k.read, b.constI64('k3d', [3], [H, T, D])]);
    kT = b.op(Op.Reshape, [b.op(Op.Transpose, [flat], [intsAttr('perm', [0, 2, 1])]), b.constI64('kT4d', [4], [1, H, D, T])]);
  }
  let x = b.op(Op.MatMul, [q, scaled(kT, c.keyScale, 0.9)]);
  if (c.maskBeforeScale === 'add') x = b.op(Op.Add, [x, b.input('early_mask', DataType.FLOAT, [1, 1, S, T])]);
  x = scaled(x, c.scoreScale, 0.6);
  if (c.softcap === 'tanh') x = b.op(Op.Mul, [b.op(Op.Tanh, [b.op(Op.Div, [x, scalar(30)])]), scalar(30)]);
  if (c.bias === 'add') x = b.op(Op.Add, [x, b.input('bias', DataType.FLOAT, [1, H, S, T])]);
  if (c.mask === 'add') x = b.op(Op.Add, [x, b.input('mask', DataType.FLOAT, [1, 1, S, T])]);
  if (c.mask === 'where') x = b.op(Op.Where, [b.input('keep', DataType.BOOL, [1, 1, S, T]), x, scalar(-1e4)]);
  if (c.mask === 'whereFill') x = b.op(Op.Where, [b.input('masked', DataType.BOOL, [1, 1, S, T]), scalar(-1e4), x]);
  if (c.mask === 'fillFromInput') x = b.op(Op.Where, [b.input('masked', DataType.BOOL, [1, 1, S, T]), b.input('fill', DataType.FLOAT, [1, H, S, T]), x]);
  let p = b.op(Op.Softmax, [x], [intAttr('axis', c.softmaxAxis)]);
  if (c.nanGuard === 'isNaN') p = b.op(Op.Where, [b.op(Op.IsNaN, [p]), scalar(0), p]);
  if (c.nanGuard === 'maskedRows') p = b.op(Op.Where, [b.input('masked_rows', DataType.BOOL, [1, 1, S, 1]), scalar(0), p]);
  p = scaled(p, c.probabilityScale, 0.5);
  const y = b.op(Op.MatMul, [p, v.read]);
  b.output(y, 'y');
  return { model, anchor: y.producer()!, kRead: k.read, kCache: k.cache };
}
