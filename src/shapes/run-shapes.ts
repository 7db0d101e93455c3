/**
 * The shapes of one run, before it runs: every value's dimensions as numbers, from the actual
 * input tensors of a data set, and the values of the small numeric tensors that shapes are
 * computed from (Shape, Gather, Concat, Unsqueeze, Cast, integer arithmetic; the feeds' own
 * values where they are small), so that an Expand, Tile, ConstantOfShape, Range, Pad or Resize
 * sized by a constant or by the data is known before onnxruntime allocates it.
 *
 *   feeds (name → tensor) ─┐
 *   initializers, Constant ─┴▶ nodes in graph order ─▶ per output: dims, element type,
 *                                                      values (≤ MAX_VALUES elements)
 *                                                      └▶ visit(node, output, dims, …)
 *
 * Only what is certain is derived: an op this file does not know, a subgraph (If, Loop, Scan), a
 * data-dependent size (NonZero, Unique) or a value it cannot fold leaves its outputs unknown,
 * and everything computed from them too. So a known size is the size onnxruntime will allocate
 * (or refuse as invalid); an unknown one is for the caller's other safeguards.
 */
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Tensor } from '../ir/tensor.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeInfo } from '../ir/dtypes.js';
import { elemTypeOf } from '../ir/types.js';
import { Op } from '../onnx/ops.js';

/** Tensors of at most this many elements carry their values (shape vectors, scalars, small feeds). */
export const MAX_VALUES = 1 << 16;

export interface Known {
  readonly dims: readonly number[];
  readonly elemType: number | undefined;
  /** Element values as numbers (booleans 0/1), when the tensor is small and foldable. */
  readonly values?: readonly number[];
  /** Whether the values derive from a feed's values (not only from constants and shapes). */
  readonly fromData: boolean;
}

export interface SizedOutput {
  readonly node: Node;
  readonly value: Value;
  readonly known: Known;
  /** Whether the inputs that set this output's size (a shape, repeats, pads, limits) carry the data's values. */
  readonly sizeFromData: boolean;
}

/**
 * Walk `graph` in node order with `feeds` as its inputs, calling `visit` for each node output
 * whose dimensions are known. Values used before their producer (an unsorted graph) are unknown.
 */
export function walkRunShapes(graph: Graph, feeds: ReadonlyMap<string, Tensor>, visit: (o: SizedOutput) => void): void {
  const known = new Map<Value, Known>();
  for (const v of graph.inputs) {
    const t = feeds.get(v.name);
    if (t !== undefined) known.set(v, fromTensor(t, true));
  }
  for (const v of graph.initializers) if (!known.has(v)) known.set(v, fromTensor(v.initializer!, false));
  for (const node of graph.nodes) {
    const ins = node.inputs.map((v) => (v === undefined ? undefined : known.get(v)));
    let outs: (Partial<Known> | undefined)[];
    try {
      outs = node.op.domain === '' ? infer(node, ins) : [];
    } catch (e) {
      // A malformed node (rank-0 Concat, indices out of range): onnxruntime's to refuse, not ours to size.
      if (e === UNKNOWN) outs = [];
      else throw e;
    }
    // A shape is no data value, whatever tensor it is the shape of.
    const fromData = !node.is(Op.Shape) && !node.is(Op.Size) && ins.some((k) => k?.fromData === true);
    const sizeFromData = (SIZE_INPUTS.get(node.op.opType) ?? []).some((i) => ins[i]?.fromData === true);
    node.outputs.forEach((value, i) => {
      const o = outs[i];
      // Negative or fractional sizes are onnxruntime's to refuse; huge ones (past 2^53) still count.
      if (o?.dims === undefined || !o.dims.every((d) => Number.isInteger(d) && d >= 0)) return;
      const values = o.values !== undefined && o.values.length === product(o.dims) ? o.values : undefined;
      const k: Known = { dims: o.dims, elemType: o.elemType ?? elemTypeOf(value.type), fromData, ...(values !== undefined ? { values } : {}) };
      known.set(value, k);
      visit({ node, value, known: k, sizeFromData });
    });
  }
}

/** The bytes a tensor of these dims and element type takes (1 per element when the type is unknown). */
export function tensorBytes(dims: readonly number[], elemType: number | undefined): number {
  const bits = elemType === undefined ? 8 : dataTypeInfo(elemType).bits;
  return product(dims) * Math.max(1, bits / 8);
}

/** The inputs whose values set an op's output size (for saying whether the data or the model did). */
const SIZE_INPUTS = new Map<string, readonly number[]>([
  [Op.Expand.opType, [1]],
  [Op.Tile.opType, [1]],
  [Op.ConstantOfShape.opType, [0]],
  [Op.Range.opType, [0, 1, 2]],
  [Op.Reshape.opType, [1]],
  [Op.Pad.opType, [1]],
  [Op.Resize.opType, [2, 3]],
  [Op.Upsample.opType, [1]],
  [Op.OneHot.opType, [1]],
  [Op.Slice.opType, [1, 2, 3, 4]],
  [Op.TopK.opType, [1]],
]);

/** Thrown (one object, no stack trace to capture) to give up on a node: its outputs stay unknown. */
const UNKNOWN = Object.freeze({ unknown: true });
function unknown(): never {
  throw UNKNOWN;
}

/** Float tensors carry values up to this many elements (scalars and small vectors that sizes are computed from). */
const MAX_FLOAT_VALUES = 64;

function fromTensor(t: Tensor, fromData: boolean): Known {
  // Integer and bool tensors index and size; float weights and activations need no values here.
  const limit = INT_TYPES.has(t.dataType) || t.dataType === DataType.BOOL ? MAX_VALUES : MAX_FLOAT_VALUES;
  const numeric = t.storage.kind !== 'strings' && t.storage.kind !== 'external' && t.size <= limit && dataTypeInfo(t.dataType).bits > 0;
  let values: number[] | undefined;
  if (numeric) {
    try {
      values = t.toNumbers();
    } catch {
      values = undefined; // a type toNumbers does not decode: dims only
    }
  }
  return { dims: t.dims, elemType: t.dataType, fromData, ...(values !== undefined ? { values } : {}) };
}

function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

const INT_TYPES = new Set<number>([DataType.INT8, DataType.UINT8, DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32, DataType.INT64, DataType.UINT64]);

/**
 * Values cast to an element type the way onnxruntime does (integers truncate and wrap), or
 * undefined where that is not modelled here (the narrow float types' rounding, NaN to integer).
 */
function castValues(xs: readonly number[] | undefined, to: number | undefined): number[] | undefined {
  if (xs === undefined || to === undefined) return undefined;
  if (to === DataType.BOOL) return xs.map((x) => (x !== 0 ? 1 : 0));
  const out: number[] = [];
  for (const x of xs) {
    const c = castTo(x, to);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

function castTo(x: number, to: number): number | undefined {
  if (to === DataType.BOOL) return x !== 0 ? 1 : 0;
  if (to === DataType.FLOAT) return Math.fround(x);
  if (to === DataType.DOUBLE) return x;
  if (!INT_TYPES.has(to) || !Number.isFinite(x)) return undefined;
  const t = Math.trunc(x);
  const bits = dataTypeInfo(to).bits;
  if (bits >= 64) return t;
  const signed = to === DataType.INT8 || to === DataType.INT16 || to === DataType.INT32;
  const m = 2 ** bits;
  let w = ((t % m) + m) % m;
  if (signed && w >= m / 2) w -= m;
  return w;
}

const norm = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) unknown();
  return a;
};

function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** numpy broadcasting of several shapes; unknown() when they are incompatible. */
function broadcastDims(all: readonly (readonly number[])[]): number[] {
  const rank = Math.max(0, ...all.map((d) => d.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let v = 1;
    for (const d of all) {
      const x = d[d.length - rank + i];
      if (x === undefined || x === 1) continue;
      if (v !== 1 && v !== x) unknown();
      v = x;
    }
    out.push(v);
  }
  return out;
}

/**
 * For each element of a tensor of `outDims`, the flat index of the element of a tensor of
 * `inDims` broadcast to it (numpy rules). Counted like an odometer over the output's axes, the
 * input's index stepping by its stride on an axis it has and standing still on one it is
 * broadcast along: no division per element (the mask folds of a decoder run to 10^4 elements).
 */
function broadcastIndices(inDims: readonly number[], outDims: readonly number[]): Int32Array {
  const n = product(outDims);
  const index = new Int32Array(n);
  if (product(inDims) === 1) return index;
  const inStrides = stridesOf(inDims);
  const off = outDims.length - inDims.length;
  const step = outDims.map((_, i) => (i >= off && inDims[i - off] !== 1 ? inStrides[i - off]! : 0));
  const counter = new Array<number>(outDims.length).fill(0);
  let at = 0;
  for (let e = 0; e < n; e++) {
    index[e] = at;
    for (let a = outDims.length - 1; a >= 0; a--) {
      at += step[a]!;
      if (++counter[a]! < outDims[a]!) break;
      at -= step[a]! * outDims[a]!;
      counter[a] = 0;
    }
  }
  return index;
}

/** Elementwise values over broadcast inputs, when all are known and the result is small. */
function foldElementwise(ins: readonly (Known | undefined)[], dims: readonly number[], f: (xs: number[]) => number): number[] | undefined {
  const n = product(dims);
  if (n > MAX_VALUES || ins.some((k) => k?.values === undefined)) return undefined;
  const values = ins.map((k) => k!.values!);
  const index = ins.map((k) => broadcastIndices(k!.dims, dims));
  const out = new Array<number>(n);
  // one argument array for every element: the ELEMENTWISE functions read it and keep nothing
  const xs = new Array<number>(ins.length);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < xs.length; i++) xs[i] = values[i]![index[i]![e]!]!;
    out[e] = f(xs);
  }
  return out;
}

/** Values of a tensor of `dims` gathered by a map from output element to input element. */
function foldMap(k: Known | undefined, outDims: readonly number[], map: (flat: number) => number): number[] | undefined {
  const n = product(outDims);
  if (k?.values === undefined || n > MAX_VALUES) return undefined;
  const out = new Array<number>(n);
  for (let e = 0; e < n; e++) out[e] = k.values[map(e)]!;
  return out;
}

/** A value input read as integers (a shape, axes, repeats), or undefined when not known. */
function ints(k: Known | undefined): number[] | undefined {
  if (k?.values === undefined) return undefined;
  if (!k.values.every((x) => Number.isFinite(x))) unknown();
  return k.values.map((x) => Math.trunc(x));
}

function scalar(k: Known | undefined): number | undefined {
  return k?.values?.length === 1 ? k.values[0] : undefined;
}

const ELEMENTWISE: ReadonlyMap<string, (xs: number[], isInt: boolean, node: Node) => number> = new Map<string, (xs: number[], isInt: boolean, node: Node) => number>([
  [Op.Add.opType, ([a, b]) => a! + b!],
  [Op.Sub.opType, ([a, b]) => a! - b!],
  [Op.Mul.opType, ([a, b]) => a! * b!],
  [Op.Div.opType, ([a, b], isInt) => (isInt ? (b === 0 ? unknown() : Math.trunc(a! / b!)) : a! / b!)],
  [Op.Mod.opType, ([a, b], _isInt, n) => {
    if (b === 0) unknown();
    const r = a! % b!;
    // fmod=0 on integers takes the divisor's sign, like Python's %
    return n.intAttr('fmod', 0) === 0 && r !== 0 && r < 0 !== b! < 0 ? r + b! : r;
  }],
  [Op.Pow.opType, ([a, b]) => a! ** b!],
  [Op.Max.opType, (xs) => Math.max(...xs)],
  [Op.Min.opType, (xs) => Math.min(...xs)],
  [Op.Sum.opType, (xs) => xs.reduce((s, x) => s + x, 0)],
  [Op.Mean.opType, (xs) => xs.reduce((s, x) => s + x, 0) / xs.length],
  [Op.Equal.opType, ([a, b]) => (a === b ? 1 : 0)],
  [Op.Less.opType, ([a, b]) => (a! < b! ? 1 : 0)],
  [Op.Greater.opType, ([a, b]) => (a! > b! ? 1 : 0)],
  [Op.LessOrEqual.opType, ([a, b]) => (a! <= b! ? 1 : 0)],
  [Op.GreaterOrEqual.opType, ([a, b]) => (a! >= b! ? 1 : 0)],
  [Op.And.opType, ([a, b]) => (a && b ? 1 : 0)],
  [Op.Or.opType, ([a, b]) => (a || b ? 1 : 0)],
  [Op.Xor.opType, ([a, b]) => (!a !== !b ? 1 : 0)],
  [Op.Where.opType, ([c, a, b]) => (c ? a! : b!)],
]);
const BOOL_RESULT = new Set([Op.Equal, Op.Less, Op.Greater, Op.LessOrEqual, Op.GreaterOrEqual, Op.And, Op.Or, Op.Xor, Op.Not].map((o) => o.opType));

/** Unary ops of one output the shape of their input, with the values they fold (if any). */
const UNARY: ReadonlyMap<string, ((x: number) => number) | undefined> = new Map<string, ((x: number) => number) | undefined>([
  [Op.Identity.opType, (x) => x],
  [Op.Neg.opType, (x) => -x],
  [Op.Abs.opType, Math.abs],
  [Op.Not.opType, (x) => (x ? 0 : 1)],
  [Op.Floor.opType, Math.floor],
  [Op.Ceil.opType, Math.ceil],
  [Op.Sqrt.opType, Math.sqrt],
  [Op.Sign.opType, Math.sign],
  [Op.Relu.opType, (x) => Math.max(0, x)],
  [Op.Sigmoid.opType, undefined],
  [Op.Tanh.opType, undefined],
  [Op.Softmax.opType, undefined],
  [Op.IsNaN.opType, undefined],
  [Op.Dropout.opType, undefined],
  ...['Exp', 'Log', 'Erf', 'Reciprocal', 'Sin', 'Cos', 'LogSoftmax', 'Gelu', 'Softplus', 'LeakyRelu', 'Elu', 'Selu', 'HardSigmoid', 'Clip', 'Round', 'Trilu', 'CumSum', 'LayerNormalization', 'RMSNormalization', 'RotaryEmbedding']
    .map((name) => [name, undefined] as const),
]);

const REDUCE: ReadonlyMap<string, ((acc: number, x: number) => number) | undefined> = new Map<string, ((acc: number, x: number) => number) | undefined>([
  [Op.ReduceSum.opType, (a, x) => a + x],
  [Op.ReduceProd.opType, (a, x) => a * x],
  [Op.ReduceMax.opType, Math.max],
  [Op.ReduceMin.opType, Math.min],
  [Op.ReduceMean.opType, undefined],
  ...['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'].map((name) => [name, undefined] as const),
]);

/** Each output's dims, element type and values, from the node and its known inputs. */
function infer(n: Node, ins: readonly (Known | undefined)[]): (Partial<Known> | undefined)[] {
  const op = n.op.opType;
  const k0 = ins[0];
  const need = (i: number): Known => ins[i] ?? unknown();
  const t0 = k0?.elemType;

  if (op === Op.Constant.opType) {
    const a = n.attr('value');
    if (a?.kind === 'tensor') return [fromTensor(a.value, false)];
    const i = n.intAttr('value_int');
    if (i !== undefined) return [{ dims: [], elemType: DataType.INT64, values: [i] }];
    const is = n.intsAttr('value_ints');
    if (is !== undefined) return [{ dims: [is.length], elemType: DataType.INT64, values: is }];
    const f = n.floatAttr('value_float');
    if (f !== undefined) return [{ dims: [], elemType: DataType.FLOAT, values: [f] }];
    return [];
  }
  const unary = UNARY.get(op);
  if (UNARY.has(op)) {
    const x = need(0);
    const elemType = op === Op.Not.opType || op === Op.IsNaN.opType ? DataType.BOOL : t0;
    const values = unary !== undefined && x.values !== undefined ? x.values.map(unary) : undefined;
    const out: Partial<Known>[] = [{ dims: x.dims, elemType, ...(values ? { values } : {}) }];
    if (op === Op.Dropout.opType) out.push({ dims: x.dims, elemType: DataType.BOOL });
    return out;
  }
  if (op === Op.Cast.opType || op === Op.CastLike.opType) {
    const x = need(0);
    const to = op === Op.Cast.opType ? (n.intAttr('to') ?? unknown()) : (ins[1]?.elemType ?? unknown());
    const values = castValues(x.values, to);
    return [{ dims: x.dims, elemType: to, ...(values ? { values } : {}) }];
  }
  const ew = ELEMENTWISE.get(op);
  if (ew !== undefined) {
    const all = ins.map((_, i) => need(i));
    const dims = broadcastDims(all.map((k) => k.dims));
    const elemType = BOOL_RESULT.has(op) ? DataType.BOOL : op === Op.Where.opType ? all[1]?.elemType : t0;
    const isInt = t0 !== undefined && INT_TYPES.has(t0);
    const values = castValues(foldElementwise(all, dims, (xs) => ew(xs, isInt, n)), elemType);
    return [{ dims, elemType, ...(values ? { values } : {}) }];
  }
  const reduce = REDUCE.get(op);
  if (REDUCE.has(op)) return [reduced(n, need(0), ins[1], reduce)];

  switch (op) {
    case Op.Shape.opType: {
      const d = need(0).dims;
      const r = d.length;
      const clamp = (x: number): number => Math.min(r, Math.max(0, x < 0 ? x + r : x));
      const part = d.slice(clamp(n.intAttr('start', 0)), clamp(n.intAttr('end', r)));
      return [{ dims: [part.length], elemType: DataType.INT64, values: part }];
    }
    case Op.Size.opType:
      return [{ dims: [], elemType: DataType.INT64, values: [product(need(0).dims)] }];
    case Op.ConstantOfShape.opType: {
      const dims = ints(need(0)) ?? unknown();
      const a = n.attr('value');
      const fill = a?.kind === 'tensor' ? fromTensor(a.value, false) : undefined;
      const elemType = fill?.elemType ?? DataType.FLOAT;
      const v = fill?.values?.[0] ?? 0;
      return [{ dims, elemType, ...(product(dims) <= MAX_VALUES ? { values: new Array<number>(product(dims)).fill(v) } : {}) }];
    }
    case Op.Range.opType: {
      const [start, limit, delta] = [0, 1, 2].map((i) => scalar(ins[i]) ?? unknown());
      if (delta === 0 || !Number.isFinite(start! + limit! + delta!)) unknown();
      const count = Math.max(Math.ceil((limit! - start!) / delta!), 0);
      const values = count <= MAX_VALUES ? Array.from({ length: count }, (_, i) => start! + i * delta!) : undefined;
      return [{ dims: [count], elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.Expand.opType: {
      const x = need(0);
      const dims = broadcastDims([x.dims, ints(ins[1]) ?? unknown()]);
      const index = x.values !== undefined && product(dims) <= MAX_VALUES ? broadcastIndices(x.dims, dims) : undefined;
      const values = index !== undefined ? foldMap(x, dims, (e) => index[e]!) : undefined;
      return [{ dims, elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.Tile.opType: {
      const x = need(0);
      const reps = ints(ins[1]) ?? unknown();
      if (reps.length !== x.dims.length) unknown();
      const dims = x.dims.map((d, i) => d * reps[i]!);
      const outStrides = stridesOf(dims);
      const inStrides = stridesOf(x.dims);
      const values = foldMap(x, dims, (e) => dims.reduce((acc, _, i) => acc + ((Math.floor(e / outStrides[i]!) % dims[i]!) % x.dims[i]!) * inStrides[i]!, 0));
      return [{ dims, elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.Reshape.opType: {
      const x = need(0);
      const shape = ints(ins[1]) ?? unknown();
      const allowZero = n.intAttr('allowzero', 0) === 1;
      const dims = shape.map((s, i) => (s === 0 && !allowZero ? (x.dims[i] ?? unknown()) : s));
      const minus = dims.indexOf(-1);
      if (minus >= 0) {
        const rest = product(dims.filter((_, i) => i !== minus));
        if (rest === 0 || product(x.dims) % rest !== 0) unknown();
        dims[minus] = product(x.dims) / rest;
      }
      if (product(dims) !== product(x.dims)) unknown();
      return [{ dims, elemType: t0, ...(x.values ? { values: x.values } : {}) }];
    }
    case Op.Flatten.opType: {
      const x = need(0);
      const axis = n.intAttr('axis', 1);
      const a = axis < 0 ? axis + x.dims.length : axis;
      if (a < 0 || a > x.dims.length) unknown();
      return [{ dims: [product(x.dims.slice(0, a)), product(x.dims.slice(a))], elemType: t0, ...(x.values ? { values: x.values } : {}) }];
    }
    case Op.Squeeze.opType: {
      const x = need(0);
      const axes = (ins[1] !== undefined ? ints(ins[1]) : n.intsAttr('axes'))?.map((a) => norm(a, x.dims.length));
      if (ins[1] !== undefined && axes === undefined) unknown();
      const dims = x.dims.filter((d, i) => (axes === undefined ? d !== 1 : !axes.includes(i)));
      return [{ dims, elemType: t0, ...(x.values ? { values: x.values } : {}) }];
    }
    case Op.Unsqueeze.opType: {
      const x = need(0);
      const raw = (ins[1] !== undefined ? ints(ins[1]) : n.intsAttr('axes')) ?? unknown();
      const rank = x.dims.length + raw.length;
      const axes = new Set(raw.map((a) => norm(a, rank)));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) dims.push(axes.has(i) ? 1 : (x.dims[k++] ?? unknown()));
      return [{ dims, elemType: t0, ...(x.values ? { values: x.values } : {}) }];
    }
    case Op.Concat.opType: {
      const all = ins.map((_, i) => need(i));
      const rank = all[0]?.dims.length ?? unknown();
      const axis = norm(n.intAttr('axis') ?? unknown(), rank);
      if (all.some((k) => k.dims.length !== rank || k.dims.some((d, i) => i !== axis && d !== all[0]!.dims[i]))) unknown();
      const dims = all[0]!.dims.map((d, i) => (i === axis ? all.reduce((s, k) => s + k.dims[axis]!, 0) : d));
      let values: number[] | undefined;
      if (all.every((k) => k.values !== undefined) && product(dims) <= MAX_VALUES) {
        const outer = product(dims.slice(0, axis));
        values = [];
        for (let o = 0; o < outer; o++) {
          for (const k of all) {
            const block = product(k.dims.slice(axis));
            for (let j = 0; j < block; j++) values.push(k.values![o * block + j]!);
          }
        }
      }
      return [{ dims, elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.Gather.opType: {
      const x = need(0);
      const idx = need(1);
      const axis = norm(n.intAttr('axis', 0), x.dims.length);
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      let values: number[] | undefined;
      if (x.values !== undefined && idx.values !== undefined && product(dims) <= MAX_VALUES) {
        const outer = product(x.dims.slice(0, axis));
        const inner = product(x.dims.slice(axis + 1));
        const size = x.dims[axis]!;
        values = [];
        for (let o = 0; o < outer; o++) {
          for (const raw of idx.values) {
            const i = raw < 0 ? raw + size : raw;
            if (!Number.isInteger(i) || i < 0 || i >= size) unknown();
            for (let j = 0; j < inner; j++) values.push(x.values[(o * size + i) * inner + j]!);
          }
        }
      }
      return [{ dims, elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.GatherElements.opType:
      return [{ dims: need(1).dims, elemType: t0 }];
    case Op.GatherND.opType: {
      const x = need(0).dims;
      const idx = need(1).dims;
      const last = idx[idx.length - 1] ?? unknown();
      const b = n.intAttr('batch_dims', 0);
      if (b + last > x.length) unknown();
      return [{ dims: [...idx.slice(0, -1), ...x.slice(b + last)], elemType: t0 }];
    }
    case Op.Attention.opType:
      return attention(n, ins);
    case Op.ScatterElements.opType:
      return [{ dims: need(0).dims, elemType: t0 }];
    case Op.Slice.opType:
      return [sliced(n, need(0), ins)];
    case Op.Transpose.opType: {
      const x = need(0);
      const r = x.dims.length;
      const perm = n.intsAttr('perm') ?? x.dims.map((_, i) => r - 1 - i);
      if (perm.length !== r || new Set(perm).size !== r || perm.some((p) => p < 0 || p >= r)) unknown();
      const dims = perm.map((p) => x.dims[p]!);
      const outStrides = stridesOf(dims);
      const inStrides = stridesOf(x.dims);
      const values = foldMap(x, dims, (e) => perm.reduce((acc, p, i) => acc + (Math.floor(e / outStrides[i]!) % dims[i]!) * inStrides[p]!, 0));
      return [{ dims, elemType: t0, ...(values ? { values } : {}) }];
    }
    case Op.MatMul.opType: {
      const a = need(0).dims;
      const b = need(1).dims;
      if (a.length === 0 || b.length === 0) unknown();
      const a2 = a.length === 1 ? [1, a[0]!] : a;
      const b2 = b.length === 1 ? [b[0]!, 1] : b;
      if (a2[a2.length - 1] !== b2[b2.length - 2]) unknown();
      const batch = broadcastDims([a2.slice(0, -2), b2.slice(0, -2)]);
      const dims = [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]!]), ...(b.length === 1 ? [] : [b2[b2.length - 1]!])];
      return [{ dims, elemType: t0 }];
    }
    case Op.Gemm.opType: {
      const a = need(0).dims;
      const b = need(1).dims;
      if (a.length !== 2 || b.length !== 2) unknown();
      return [{ dims: [a[n.intAttr('transA', 0) ? 1 : 0]!, b[n.intAttr('transB', 0) ? 0 : 1]!], elemType: t0 }];
    }
    case Op.ArgMax.opType:
    case Op.ArgMin.opType: {
      const x = need(0);
      const axis = norm(n.intAttr('axis', 0), x.dims.length);
      const keep = n.intAttr('keepdims', 1) === 1;
      return [{ dims: keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis), elemType: DataType.INT64 }];
    }
    case Op.TopK.opType: {
      const x = need(0);
      const k = scalar(ins[1]) ?? unknown();
      const axis = norm(n.intAttr('axis', -1), x.dims.length);
      const dims = x.dims.map((d, i) => (i === axis ? k : d));
      return [{ dims, elemType: t0 }, { dims, elemType: DataType.INT64 }];
    }
    case Op.Split.opType: {
      const x = need(0);
      const axis = norm(n.intAttr('axis', 0), x.dims.length);
      const total = x.dims[axis]!;
      const count = n.outputs.length;
      const given = ins[1] !== undefined ? (ints(ins[1]) ?? unknown()) : n.intsAttr('split');
      const chunk = Math.ceil(total / count);
      const sizes = given ?? Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, total - i * chunk)));
      if (sizes.length !== count) unknown();
      return sizes.map((s) => ({ dims: x.dims.map((d, i) => (i === axis ? s : d)), elemType: t0 }));
    }
    case Op.Pad.opType: {
      const x = need(0);
      const pads = (ins[1] !== undefined ? ints(ins[1]) : n.intsAttr('pads')) ?? unknown();
      const r = x.dims.length;
      const axes = ins[3] !== undefined ? (ints(ins[3]) ?? unknown()).map((a) => norm(a, r)) : x.dims.map((_, i) => i);
      if (pads.length !== 2 * axes.length) unknown();
      const dims = [...x.dims];
      axes.forEach((a, i) => (dims[a] = dims[a]! + pads[i]! + pads[i + axes.length]!));
      return [{ dims, elemType: t0 }];
    }
    case Op.Resize.opType:
    case Op.Upsample.opType: {
      const x = need(0);
      // Sizes that depend on the aspect ratio or a crop box are not derived here.
      if ((n.stringAttr('keep_aspect_ratio_policy') ?? 'stretch') !== 'stretch' || n.stringAttr('coordinate_transformation_mode') === 'tf_crop_and_resize') unknown();
      const axes = n.intsAttr('axes')?.map((a) => norm(a, x.dims.length)) ?? x.dims.map((_, i) => i);
      // Resize-10 and Upsample take (X, scales); Resize-11 on (X, roi, scales, sizes).
      const twoInputs = n.inputs.length === 2;
      const sizes = !twoInputs && ins[3] !== undefined ? ints(ins[3]) : undefined;
      const scalesIn = twoInputs ? ins[1] : ins[2];
      const attr = n.attr('scales');
      const scales = scalesIn?.values ?? (attr?.kind === 'floats' ? attr.value : undefined);
      const dims = [...x.dims];
      if (sizes !== undefined && sizes.length === axes.length) axes.forEach((a, i) => (dims[a] = sizes[i]!));
      else if (scales !== undefined && scales.length === axes.length && scales.length > 0) axes.forEach((a, i) => (dims[a] = Math.floor(x.dims[a]! * scales[i]!)));
      else unknown();
      return [{ dims, elemType: t0 }];
    }
    case Op.OneHot.opType: {
      const idx = need(0);
      const depth = scalar(ins[1]) ?? unknown();
      const rank = idx.dims.length + 1;
      const axis = norm(n.intAttr('axis', -1), rank);
      const dims = [...idx.dims.slice(0, axis), Math.trunc(depth), ...idx.dims.slice(axis)];
      return [{ dims, elemType: ins[2]?.elemType }];
    }
    case Op.QuantizeLinear.opType:
      return [{ dims: need(0).dims, elemType: ins[2]?.elemType ?? n.intAttr('output_dtype') ?? DataType.UINT8 }];
    case Op.DequantizeLinear.opType:
      return [{ dims: need(0).dims, elemType: ins[1]?.elemType }];
    case Op.RandomNormal.opType:
    case Op.RandomUniform.opType:
      return [{ dims: n.intsAttr('shape') ?? unknown(), elemType: n.intAttr('dtype', DataType.FLOAT) }];
    default:
      return [];
  }
}

/**
 * ONNX's Attention (opset 23): Q, K, V as [B, H, S, D], or [B, S, H·D] with the head counts in
 * attributes; the past, when given, lengthens the present and the scores.
 */
function attention(n: Node, ins: readonly (Known | undefined)[]): Partial<Known>[] {
  const need = (i: number): readonly number[] => ins[i]?.dims ?? unknown();
  const [q, k, v] = [need(0), need(1), need(2)];
  const past = n.inputs[4] !== undefined ? need(4)[2]! : 0;
  let b: number, hq: number, s: number, hkv: number, l: number, dqk: number, dv: number;
  if (q.length === 4 && k.length === 4 && v.length === 4) [b, hq, s, dqk, hkv, l, dv] = [q[0]!, q[1]!, q[2]!, q[3]!, k[1]!, k[2]!, v[3]!];
  else if (q.length === 3 && k.length === 3 && v.length === 3) {
    hq = n.intAttr('q_num_heads') ?? unknown();
    hkv = n.intAttr('kv_num_heads') ?? unknown();
    [b, s, l, dqk, dv] = [q[0]!, q[1]!, k[1]!, q[2]! / hq, v[2]! / hkv];
  } else unknown();
  const t = ins[0]!.elemType;
  const y = q.length === 4 ? [b, hq, s, dv] : [b, s, hq * dv];
  return [
    { dims: y, elemType: t },
    { dims: [b, hkv, past + l, dqk], elemType: t },
    { dims: [b, hkv, past + l, dv], elemType: t },
    { dims: [b, hq, s, past + l], elemType: t },
  ];
}

/** A Reduce* node: axes from input 1 (newer opsets) or the attribute; values folded when the op has a fold. */
function reduced(n: Node, x: Known, axesIn: Known | undefined, fold: ((acc: number, x: number) => number) | undefined): Partial<Known> {
  const r = x.dims.length;
  const raw = axesIn !== undefined ? ints(axesIn) : n.intsAttr('axes');
  if (axesIn !== undefined && raw === undefined) unknown();
  const keep = n.intAttr('keepdims', 1) === 1;
  if ((raw === undefined || raw.length === 0) && n.intAttr('noop_with_empty_axes', 0) === 1) return { dims: x.dims, elemType: x.elemType, ...(x.values ? { values: x.values } : {}) };
  const axes = new Set(raw === undefined || raw.length === 0 ? x.dims.map((_, i) => i) : raw.map((a) => norm(a, r)));
  const kept = x.dims.map((d, i) => (axes.has(i) ? 1 : d));
  const dims = keep ? kept : x.dims.filter((_, i) => !axes.has(i));
  let values: number[] | undefined;
  if (fold !== undefined && x.values !== undefined && product(x.dims) > 0) {
    const outStrides = stridesOf(kept);
    const inStrides = stridesOf(x.dims);
    const acc = new Array<number | undefined>(product(kept)).fill(undefined);
    x.values.forEach((v, e) => {
      let o = 0;
      for (let i = 0; i < r; i++) if (!axes.has(i)) o += (Math.floor(e / inStrides[i]!) % x.dims[i]!) * outStrides[i]!;
      acc[o] = acc[o] === undefined ? v : fold(acc[o]!, v);
    });
    values = acc as number[];
  }
  return { dims, elemType: x.elemType, ...(values ? { values } : {}) };
}

/** A Slice node (inputs since opset 10, attributes before), with ONNX's clamping and negative steps. */
function sliced(n: Node, x: Known, ins: readonly (Known | undefined)[]): Partial<Known> {
  const r = x.dims.length;
  const fromInputs = ins.length > 1;
  const starts = (fromInputs ? ints(ins[1]) : n.intsAttr('starts')) ?? unknown();
  const ends = (fromInputs ? ints(ins[2]) : n.intsAttr('ends')) ?? unknown();
  const axesRaw = fromInputs ? (ins[3] !== undefined ? (ints(ins[3]) ?? unknown()) : undefined) : n.intsAttr('axes');
  const steps = fromInputs && ins[4] !== undefined ? (ints(ins[4]) ?? unknown()) : starts.map(() => 1);
  const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => norm(a, r));
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) unknown();
  const begin = x.dims.map(() => 0);
  const step = x.dims.map(() => 1);
  const dims = [...x.dims];
  axes.forEach((a, i) => {
    const d = x.dims[a]!;
    const s = steps[i]!;
    if (s === 0) unknown();
    const pos = (v: number): number => (v < 0 ? v + d : v);
    const [lo, hi] = s > 0 ? [0, d] : [-1, d - 1];
    const b = Math.min(hi, Math.max(lo, pos(starts[i]!)));
    const e = Math.min(hi, Math.max(lo, pos(ends[i]!)));
    dims[a] = Math.max(0, Math.ceil((e - b) / s));
    begin[a] = b;
    step[a] = s;
  });
  const outStrides = stridesOf(dims);
  const inStrides = stridesOf(x.dims);
  const values = foldMap(x, dims, (e) => dims.reduce((acc, _, i) => acc + (begin[i]! + (Math.floor(e / outStrides[i]!) % dims[i]!) * step[i]!) * inStrides[i]!, 0));
  return { dims, elemType: x.elemType, ...(values ? { values } : {}) };
}
