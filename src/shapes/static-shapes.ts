/**
 * Static facts about values, read from the graph without running it: constant integer tensors
 * (shape constants, axes) and dimensions (from declared types, weights, and the few ops that
 * carry them through: Reshape, Transpose, Split, MatMul, Gemm, elementwise ops, Concat,
 * Unsqueeze). Matching uses them to learn heads and head size; a dimension that cannot be
 * derived stays undefined, and the caller says why instead of guessing.
 *
 * A `ShapeFacts` object memoizes per value for one matching run; nothing is global.
 */
import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { elemTypeOf, shapeOf } from '../ir/types.js';
import { Op } from '../onnx/ops.js';

/**
 * A dimension: a number, a symbol (a dim_param such as "batch", equal wherever it appears), or
 * undefined when unknown.
 */
export type Dim = number | string | undefined;
export type Dims = readonly Dim[];

/** One entry of a shape vector: a number, "dimension i of value x", or unknown. */
export type ShapeEntry = { kind: 'const'; n: number } | { kind: 'dimOf'; value: Value; index: number } | { kind: 'unknown' };

/** Ops whose output 0 has the element type of their input 0 (moves, joins and float arithmetic). */
const SAME_ELEM_TYPE = new Set(['Identity', 'Concat', 'Transpose', 'Reshape', 'Slice', 'Split', 'Squeeze', 'Unsqueeze', 'Expand', 'Gather', 'Flatten', 'Add', 'Sub', 'Mul', 'Div', 'Neg', 'MatMul']);

/** Ops whose output has the broadcast shape of their inputs. */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Where', 'Pow', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Mod', 'BitwiseAnd', 'BitwiseOr']);
/** Ops whose output 0 has the shape of input 0. */
const SAME_SHAPE = new Set([
  'Identity', 'Cast', 'CastLike', 'Neg', 'Sqrt', 'Relu', 'Abs', 'Softmax', 'LogSoftmax', 'IsNaN', 'Sigmoid', 'Tanh', 'Erf', 'Gelu', 'FastGelu', 'Exp', 'Log',
  'Reciprocal', 'Cos', 'Sin', 'Not', 'Dropout', 'Softplus', 'HardSigmoid', 'LeakyRelu', 'Elu', 'Selu', 'Clip', 'Floor', 'Ceil', 'Round', 'Sign',
  'RotaryEmbedding', 'RMSNormalization', 'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization',
  'QuantizeLinear', 'DequantizeLinear', 'Trilu',
]);

export class ShapeFacts {
  private readonly dimsCache = new Map<Value, Dims | undefined>();
  private readonly constCache = new Map<Value, number[] | undefined>();
  private readonly shapeDerivedCache = new Map<Value, boolean>();

  /** The tensor behind a value that is an initializer or a Constant node's output. */
  constTensor(v: Value): Tensor | undefined {
    if (v.initializer !== undefined) return v.initializer;
    const p = v.producer();
    if (p?.is(Op.Constant)) {
      const a = p.attr('value');
      if (a?.kind === 'tensor') return a.value;
    }
    return undefined;
  }

  /** A constant scalar (or one-element tensor) as a number, through Identity/Cast/CastLike chains of any length. */
  constScalar(v: Value | undefined): number | undefined {
    const seen = new Set<Value>();
    for (let cur = v; cur !== undefined && !seen.has(cur); ) {
      seen.add(cur);
      const t = this.constTensor(cur);
      if (t !== undefined && t.size === 1 && t.storage.kind !== 'strings') return t.toNumbers()[0];
      const p = cur.producer();
      if (p && (p.is(Op.Identity) || p.is(Op.Cast) || p.is(Op.CastLike)) && p.inputs[0]) {
        cur = p.inputs[0];
        continue;
      }
      if (p?.is(Op.Constant)) {
        const f = p.floatAttr('value_float');
        if (f !== undefined) return f;
        const i = p.intAttr('value_int');
        if (i !== undefined) return i;
      }
      return undefined;
    }
    return undefined;
  }

  /** A constant integer vector, folding Identity/Cast/Concat/Unsqueeze/Squeeze of constants. */
  constInts(v: Value | undefined): number[] | undefined {
    if (v === undefined) return undefined;
    if (this.constCache.has(v)) return this.constCache.get(v);
    // Folded operands first, as for dims() below: a chain of any length costs no stack depth.
    const operands = (x: Value): readonly (Value | undefined)[] => {
      if (this.constTensor(x) !== undefined) return [];
      const p = x.producer();
      if (p === undefined) return [];
      if (p.is(Op.Concat)) return p.inputs;
      return p.is(Op.Identity) || p.is(Op.Cast) || p.is(Op.Unsqueeze) || p.is(Op.Squeeze) ? [p.inputs[0]] : [];
    };
    for (const a of ancestorsFirst(v, operands, (x) => this.constCache.has(x))) {
      this.constCache.set(a, undefined); // guards against cycles
      this.constCache.set(a, this.computeConstInts(a));
    }
    return this.constCache.get(v);
  }

  private computeConstInts(v: Value): number[] | undefined {
    const t = this.constTensor(v);
    if (t !== undefined) return t.storage.kind === 'strings' ? undefined : t.toNumbers();
    const p = v.producer();
    if (p === undefined) return undefined;
    if (p.is(Op.Constant)) {
      const ints = p.intsAttr('value_ints');
      if (ints) return ints;
      const i = p.intAttr('value_int');
      return i === undefined ? undefined : [i];
    }
    if (p.is(Op.Identity) || p.is(Op.Cast) || p.is(Op.Unsqueeze) || p.is(Op.Squeeze)) return this.constInts(p.inputs[0]);
    if (p.is(Op.Concat)) {
      const parts = p.inputs.map((x) => this.constInts(x));
      if (parts.some((x) => x === undefined)) return undefined;
      return parts.flat() as number[];
    }
    return undefined;
  }

  /**
   * A value's element type: declared, a constant's, a Cast's `to`, or carried from input 0 through
   * ops that keep it (a cache Concat whose output type the exporter did not write). Undefined
   * when none of these says it.
   */
  elemType(v: Value | undefined, depth = 16): number | undefined {
    if (v === undefined || depth < 0) return undefined;
    const declared = elemTypeOf(v.type);
    if (declared !== undefined) return declared;
    const t = this.constTensor(v);
    if (t !== undefined) return t.dataType;
    const p = v.producer();
    if (p?.is(Op.Cast)) return p.intAttr('to');
    return p !== undefined && SAME_ELEM_TYPE.has(p.op.opType) && p.op.domain === '' ? this.elemType(p.inputs[0], depth - 1) : undefined;
  }

  /**
   * Whether a value is computed from constants and tensor shapes only (never from tensor
   * contents), like the 1/sqrt(head_size) scale that exporters build from Shape. Decided over
   * all its ancestors, operands first (a chain of any length costs no stack depth), and
   * memoized, so that asking about every operand of a graph costs one pass over it.
   */
  isShapeDerived(v: Value | undefined): boolean {
    if (v === undefined) return false;
    const cached = this.shapeDerivedCache.get(v);
    if (cached !== undefined) return cached;
    const operands = (x: Value): readonly (Value | undefined)[] => {
      const p = x.producer();
      if (this.constTensor(x) !== undefined || p === undefined || p.is(Op.Shape) || p.is(Op.Constant)) return [];
      return p.is(Op.CastLike) ? [p.inputs[0]] : p.inputs;
    };
    const derived = (x: Value | undefined): boolean => x !== undefined && this.shapeDerivedCache.get(x) === true;
    for (const a of ancestorsFirst(v, operands, (x) => this.shapeDerivedCache.has(x))) {
      this.shapeDerivedCache.set(a, false); // guards against cycles
      const p = a.producer();
      let r: boolean;
      if (this.constTensor(a) !== undefined) r = true;
      else if (p === undefined) r = false;
      else if (p.is(Op.Shape) || p.is(Op.Constant)) r = true;
      else if (p.is(Op.CastLike)) r = derived(p.inputs[0]);
      else r = p.inputs.length > 0 && p.inputs.every((x) => x === undefined || derived(x));
      this.shapeDerivedCache.set(a, r);
    }
    return this.shapeDerivedCache.get(v)!;
  }

  /** A shape vector entry by entry, where some entries are dimensions of another value. */
  shapeEntries(v: Value | undefined): ShapeEntry[] | undefined {
    if (v === undefined) return undefined;
    const whole = this.constInts(v);
    if (whole !== undefined) return whole.map((n) => ({ kind: 'const', n }));
    const p = v.producer();
    if (p?.is(Op.Concat)) {
      const out: ShapeEntry[] = [];
      for (const part of p.inputs) {
        const e = this.scalarEntry(part);
        if (e === undefined) return undefined;
        out.push(...e);
      }
      return out;
    }
    return undefined;
  }

  /** A Concat operand that is one shape entry (or a constant vector of several). */
  private scalarEntry(v: Value | undefined): ShapeEntry[] | undefined {
    if (v === undefined) return undefined;
    const c = this.constInts(v);
    if (c !== undefined) return c.map((n) => ({ kind: 'const', n }));
    let p = v.producer();
    // Unsqueeze(Gather(Shape(x), i)) and its Cast-wrapped variants: dimension i of x.
    while (p && (p.is(Op.Unsqueeze) || p.is(Op.Cast) || p.is(Op.Identity))) p = p.inputs[0]?.producer();
    if (p?.is(Op.Shape) && p.inputs[0]) {
      // Shape(x, start, end) of one dimension.
      const rank = this.dims(p.inputs[0])?.length;
      const start = p.intAttr('start', 0);
      const end = p.intAttr('end');
      if (rank !== undefined && end !== undefined) {
        const s0 = start < 0 ? start + rank : start;
        const e0 = end < 0 ? end + rank : end;
        if (e0 - s0 === 1) return [{ kind: 'dimOf', value: p.inputs[0], index: s0 }];
      }
    }
    if (p?.is(Op.Gather)) {
      const idx = this.constInts(p.inputs[1]);
      const shape = p.inputs[0]?.producer();
      if (idx?.length === 1 && shape?.is(Op.Shape) && shape.inputs[0]) {
        return [{ kind: 'dimOf', value: shape.inputs[0], index: idx[0]! }];
      }
    }
    return [{ kind: 'unknown' }];
  }

  /** Static dimensions of a value (rank known, entries possibly undefined), or undefined. */
  dims(v: Value | undefined): Dims | undefined {
    if (v === undefined) return undefined;
    if (this.dimsCache.has(v)) return this.dimsCache.get(v);
    // The dims of a value come from its producer's inputs, and theirs from further up: computed
    // ancestors first, from an explicit stack, the recursion in computeDims only ever finds
    // them cached, so a chain of any length costs no stack depth.
    const operands = (x: Value): readonly (Value | undefined)[] => (this.constTensor(x) !== undefined ? [] : (x.producer()?.inputs ?? []));
    for (const a of ancestorsFirst(v, operands, (x) => this.dimsCache.has(x))) {
      this.dimsCache.set(a, undefined); // guards against cycles
      this.dimsCache.set(a, this.computeDims(a));
    }
    return this.dimsCache.get(v);
  }

  private computeDims(v: Value): Dims | undefined {
    const declared = shapeOf(v.type);
    const t = this.constTensor(v);
    if (t !== undefined) return t.dims;
    const p = v.producer();
    const derived = p ? this.fromProducer(p, v.outputIndex() ?? 0) : undefined;
    return merge(declared, derived);
  }

  private fromProducer(p: Node, outIndex: number): Dims | undefined {
    const in0 = p.inputs[0];
    if (SAME_SHAPE.has(p.op.opType) && outIndex === 0) return this.dims(in0);
    if (ELEMENTWISE.has(p.op.opType)) return broadcast(p.inputs.map((x) => this.dims(x)));
    if (p.is(Op.Gather)) {
      const data = this.dims(in0);
      const idx = this.dims(p.inputs[1]);
      if (data === undefined || idx === undefined) return undefined;
      const axis = norm(p.intAttr('axis', 0), data.length);
      return [...data.slice(0, axis), ...idx, ...data.slice(axis + 1)];
    }
    if ([Op.ReduceMean, Op.ReduceSum, Op.ReduceMax, Op.ReduceMin].some((o) => p.is(o))) {
      const d = this.dims(in0);
      const axes = this.constInts(p.inputs[1]) ?? p.intsAttr('axes');
      if (d === undefined || axes === undefined) return undefined;
      const set = new Set(axes.map((a) => norm(a, d.length)));
      const keep = p.intAttr('keepdims', 1) === 1;
      return keep ? d.map((x, i) => (set.has(i) ? 1 : x)) : d.filter((_, i) => !set.has(i));
    }
    if (p.is(Op.Transpose)) {
      const d = this.dims(in0);
      if (d === undefined) return undefined;
      const perm = p.intsAttr('perm') ?? d.map((_, i) => d.length - 1 - i);
      return perm.map((i) => d[i]);
    }
    if (p.is(Op.MatMul)) {
      const a = this.dims(in0);
      const b = this.dims(p.inputs[1]);
      if (b === undefined) return undefined;
      const n = b[b.length - 1];
      if (a === undefined) return undefined;
      return [...a.slice(0, -1), n];
    }
    if (p.is(Op.Gemm)) {
      const a = this.dims(in0);
      const b = this.dims(p.inputs[1]);
      if (b === undefined) return undefined;
      const transA = p.intAttr('transA', 0);
      const transB = p.intAttr('transB', 0);
      return [a?.[transA ? 1 : 0], b[transB ? 0 : 1]];
    }
    if (p.is(Op.Reshape)) return this.reshape(in0, p.inputs[1]);
    if (p.is(Op.Split)) {
      const d = this.dims(in0);
      if (d === undefined) return undefined;
      const axis = norm(p.intAttr('axis', 0), d.length);
      const sizes = this.constInts(p.inputs[1]) ?? p.intsAttr('split');
      const total = d[axis];
      const size = sizes ? sizes[outIndex] : typeof total === 'number' ? total / p.outputs.length : undefined;
      return d.map((x, i) => (i === axis ? size : x));
    }
    if (p.is(Op.Concat)) {
      const parts = p.inputs.map((x) => this.dims(x));
      const known = parts.find((x) => x !== undefined);
      if (known === undefined) return undefined;
      const axis = norm(p.intAttr('axis', 0), known.length);
      return known.map((_, i) => {
        if (i !== axis) return parts.map((x) => x?.[i]).find((x) => x !== undefined);
        const sizes = parts.map((x) => x?.[i]);
        return sizes.every((x) => typeof x === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : undefined;
      });
    }
    if (p.is(Op.Unsqueeze)) {
      const d = this.dims(in0);
      const axes = this.constInts(p.inputs[1]) ?? p.intsAttr('axes');
      if (d === undefined || axes === undefined) return undefined;
      const rank = d.length + axes.length;
      const set = new Set(axes.map((a) => norm(a, rank)));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(set.has(i) ? 1 : d[k++]);
      return out;
    }
    if (p.is(Op.Slice)) {
      // A sliced axis of known size with constant starts/ends (step 1) keeps a known size
      // (Phi-3's fused QKV is sliced this way); otherwise it becomes unknown.
      const d = this.dims(in0);
      if (d === undefined) return undefined;
      const axes = (this.constInts(p.inputs[3]) ?? d.map((_, i) => i)).map((a) => norm(a, d.length));
      const starts = this.constInts(p.inputs[1]);
      const ends = this.constInts(p.inputs[2]);
      const steps = this.constInts(p.inputs[4]);
      return d.map((x, i) => {
        const k = axes.indexOf(i);
        if (k < 0) return x;
        if (typeof x !== 'number' || !starts || !ends || (steps && steps[k] !== 1)) return undefined;
        const clamp = (v: number): number => Math.min(x, Math.max(0, v < 0 ? v + x : v));
        return Math.max(0, clamp(ends[k]!) - clamp(starts[k]!));
      });
    }
    return undefined;
  }

  private reshape(x: Value | undefined, shapeValue: Value | undefined): Dims | undefined {
    const entries = this.shapeEntries(shapeValue);
    if (entries === undefined) return undefined;
    const xd = this.dims(x);
    const out: Dim[] = entries.map((e, i) =>
      e.kind === 'const' ? (e.n === 0 ? xd?.[i] : e.n === -1 ? undefined : e.n) : e.kind === 'dimOf' ? this.dims(e.value)?.[e.index] : undefined,
    );
    const minus = entries.findIndex((e) => e.kind === 'const' && e.n === -1);
    if (minus >= 0 && xd !== undefined) {
      // -1 is the input's element count over the other entries'. Entries that copy a
      // dimension of the input itself cancel it even when unknown; symbols (batch, sequence)
      // cancel when they appear on both sides.
      const cancelled = new Set<number>();
      const others: Dim[] = [];
      entries.forEach((e, i) => {
        if (i === minus) return;
        if (e.kind === 'dimOf' && e.value === x && !cancelled.has(e.index)) cancelled.add(e.index);
        else if (e.kind === 'const' && e.n === 0 && !cancelled.has(i)) cancelled.add(i);
        else others.push(out[i]);
      });
      const num = monomial(xd.filter((_, i) => !cancelled.has(i)));
      const den = monomial(others);
      if (num !== undefined && den !== undefined) {
        const syms = [...num.syms];
        let cancels = true;
        for (const sym of den.syms) {
          const k = syms.indexOf(sym);
          if (k < 0) cancels = false;
          else syms.splice(k, 1);
        }
        const n = num.coef / den.coef;
        if (cancels && syms.length === 0 && Number.isInteger(n)) out[minus] = n;
      }
    }
    return out;
  }
}

/**
 * `v` and the values above it (through `operands`) not `known` yet, each after its operands:
 * a depth-first walk on an explicit stack, so the depth of the graph costs no stack frames.
 */
function ancestorsFirst(v: Value, operands: (x: Value) => readonly (Value | undefined)[], known: (x: Value) => boolean): Value[] {
  const order: Value[] = [];
  const seen = new Set<Value>();
  const stack: { value: Value; operandsDone: boolean }[] = [{ value: v, operandsDone: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.operandsDone) {
      order.push(top.value);
      continue;
    }
    if (seen.has(top.value)) continue;
    seen.add(top.value);
    stack.push({ value: top.value, operandsDone: true });
    for (const x of operands(top.value)) {
      if (x !== undefined && !seen.has(x) && !known(x)) stack.push({ value: x, operandsDone: false });
    }
  }
  return order;
}

/** A product of dims as coefficient times symbols; undefined if a dim is unknown. */
function monomial(d: Dims): { coef: number; syms: string[] } | undefined {
  let coef = 1;
  const syms: string[] = [];
  for (const x of d) {
    if (x === undefined) return undefined;
    if (typeof x === 'number') coef *= x;
    else syms.push(x);
  }
  return { coef, syms };
}

function norm(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function merge(a: Dims | undefined, b: Dims | undefined): Dims | undefined {
  if (a === undefined) return b;
  if (b === undefined || b.length !== a.length) return a;
  return a.map((x, i) => x ?? b[i]);
}

function broadcast(all: (Dims | undefined)[]): Dims | undefined {
  const known = all.filter((d): d is Dims => d !== undefined);
  if (known.length === 0) return undefined;
  const rank = Math.max(...known.map((d) => d.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let v: Dim;
    let allOnes = known.length === all.length || known.length === 1;
    for (const d of known) {
      const k = d.length - rank + i;
      if (k < 0) continue; // a lower-rank operand broadcasts along this axis
      const x = d[k];
      if (x !== 1) allOnes = false;
      // A number other than 1 decides; a symbol is kept unless a number decides.
      if (typeof x === 'number' && x !== 1) v = x;
      else if (typeof x === 'string' && typeof v !== 'number') v = x;
    }
    // 1 when every known operand has 1 (or nothing) here, and all are known (or only one is, as before)
    out.push(v ?? (allOnes ? 1 : undefined));
  }
  return out;
}
