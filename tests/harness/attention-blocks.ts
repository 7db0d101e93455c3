/**
 * Generated attention blocks: every tagged variant the decomposed pattern accepts (key layout,
 * scale placement, mask, grouped-query ratio, cache, casts, NaN guard), planted in a graph with
 * decoys (a router, a classifier head) and optional near-miss mutations. The graphs are
 * runnable in onnxruntime (static shapes, batch 1).
 */
import fc from 'fast-check';
import { intAttr, intsAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { sortGraph } from '../../src/ir/topo.js';

export type KeyLayout = 'BHSD' | 'BSHD' | 'BHSD3d';
export type ScaleAt = 'scores-mul' | 'scores-div' | 'q-mul' | 'split' | 'none';
export type Mutation = 'none' | 'softmax-axis' | 'no-key-transpose' | 'scores-escape' | 'weights-as-key' | 'repeat-unsqueeze-axis' | 'cache-concat-axis' | 'cast-to-int' | 'past-cast-to-int';
/** Q, K and V from three projections, or from one fused projection cut by Split or by Slice. */
export type Projection = 'separate' | 'split' | 'slice';

export interface BlockSpec {
  readonly heads: number;
  readonly ratio: number;
  readonly headDim: number;
  readonly layout: KeyLayout;
  readonly scale: ScaleAt;
  readonly mask: 'add' | 'where' | 'none';
  readonly cache: boolean;
  readonly castAfterSoftmax: boolean;
  readonly nanGuard: boolean;
  readonly softmaxAxis: -1 | 3;
  readonly projection: Projection;
  readonly mutation: Mutation;
}

export const HIDDEN = 8;
export const SEQ = 3;
export const PAST = 2;

export const blockSpec: fc.Arbitrary<BlockSpec> = fc
  .record({
    kvHeads: fc.constantFrom(1, 2),
    ratio: fc.constantFrom(1, 2, 4, 8),
    headDim: fc.constantFrom(2, 4),
    layout: fc.constantFrom<KeyLayout>('BHSD', 'BSHD', 'BHSD3d'),
    scale: fc.constantFrom<ScaleAt>('scores-mul', 'scores-div', 'q-mul', 'split', 'none'),
    mask: fc.constantFrom<'add' | 'where' | 'none'>('add', 'where', 'none'),
    cache: fc.boolean(),
    castAfterSoftmax: fc.boolean(),
    nanGuard: fc.boolean(),
    softmaxAxis: fc.constantFrom<-1 | 3>(-1, 3),
    projection: fc.constantFrom<Projection>('separate', 'split', 'slice'),
  })
  .map((r) => ({
    heads: r.kvHeads * (r.layout === 'BSHD' ? 1 : r.ratio),
    ratio: r.layout === 'BSHD' ? 1 : r.ratio,
    headDim: r.headDim,
    layout: r.layout,
    scale: r.scale,
    mask: r.mask,
    cache: r.layout === 'BSHD' ? false : r.cache,
    castAfterSoftmax: r.castAfterSoftmax,
    nanGuard: r.nanGuard,
    softmaxAxis: r.softmaxAxis,
    projection: r.projection,
    mutation: 'none' as Mutation,
  }));

export interface Planted {
  readonly spec: BlockSpec;
  readonly k: string;
  readonly v: string;
  readonly q: string;
  /** The P·V MatMul output: the block's attention output. */
  readonly pv: string;
  readonly present: readonly [string, string] | undefined;
}

const weights = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 0.5);

export class AttentionGraph {
  readonly model: Model = emptyModel({ '': 17 });
  readonly b = new GraphBuilder(this.model);
  readonly planted: Planted[] = [];
  /** Mutated blocks, with the edges a correct match would have had. */
  readonly nearMisses: Planted[] = [];
  private seed = 1;

  input(): Value {
    return this.b.input('x', DataType.FLOAT, [1, SEQ, HIDDEN]);
  }

  private w(name: string, rows: number, cols: number): Value {
    return this.b.constF32(name, [rows, cols], weights(rows * cols, this.seed++));
  }
  private i64(name: string, values: number[]): Value {
    return this.b.constI64(name, [values.length], values);
  }
  private f(name: string, value: number): Value {
    return this.b.constF32(name, [], [value]);
  }

  /** Plant one attention block reading `x` [1, S, HIDDEN]; returns its output [1, S, HIDDEN]. */
  block(x: Value, spec: BlockSpec, index: number): Value {
    const { heads: H, headDim: D, ratio } = spec;
    const Hkv = H / ratio;
    const b = this.b;
    const T = spec.cache ? PAST + SEQ : SEQ;
    // As transformers writes it: view(*input_shape, -1, head_dim); the head count must be
    // derived from the projection's width (through MatMul, Split or Slice).
    const heads = (y: Value, _h: number): Value => b.op(Op.Reshape, [y, this.i64(`shape_${index}`, [0, 0, -1, D])]);
    let flat: [Value, Value, Value];
    if (spec.projection === 'separate') {
      flat = [b.op(Op.MatMul, [x, this.w(`wq${index}`, HIDDEN, H * D)]), b.op(Op.MatMul, [x, this.w(`wk${index}`, HIDDEN, Hkv * D)]), b.op(Op.MatMul, [x, this.w(`wv${index}`, HIDDEN, Hkv * D)])];
    } else {
      // one fused projection [HIDDEN, (H + 2·Hkv)·D], cut along the last axis
      const qkv = b.op(Op.MatMul, [x, this.w(`wqkv${index}`, HIDDEN, (H + 2 * Hkv) * D)]);
      const sizes = [H * D, Hkv * D, Hkv * D];
      if (spec.projection === 'split') {
        const outs = b.node(Op.Split, [qkv, this.i64(`sizes_${index}`, sizes)], [intAttr('axis', -1)], { outputs: 3 }).outputs;
        flat = [outs[0]!, outs[1]!, outs[2]!];
      } else {
        const cut = (from: number, to: number): Value => b.op(Op.Slice, [qkv, this.i64(`from_${index}`, [from]), this.i64(`to_${index}`, [to]), this.i64(`axis_${index}`, [-1])]);
        flat = [cut(0, sizes[0]!), cut(sizes[0]!, sizes[0]! + sizes[1]!), cut(sizes[0]! + sizes[1]!, sizes[0]! + sizes[1]! + sizes[2]!)];
      }
    }
    const q = b.op(Op.Transpose, [heads(flat[0], H)], [intsAttr('perm', [0, 2, 1, 3])]);
    const kProj = heads(flat[1], Hkv);
    const vProj = heads(flat[2], Hkv);
    const toBhsd = (v: Value): Value => b.op(Op.Transpose, [v], [intsAttr('perm', [0, 2, 1, 3])]);
    let kEdge = spec.layout === 'BSHD' ? kProj : toBhsd(kProj);
    let vEdge = toBhsd(vProj);
    let present: [string, string] | undefined;
    if (spec.cache) {
      const pk = b.input(`past.${index}.key`, DataType.FLOAT, [1, Hkv, PAST, D]);
      const pv = b.input(`past.${index}.value`, DataType.FLOAT, [1, Hkv, PAST, D]);
      // near miss: a Concat over the heads axis is no sequence append
      const cacheAxis = spec.mutation === 'cache-concat-axis' ? 1 : -2;
      // near miss: a past that went through an integer Cast is not the cache as it was stored
      const past = (x: Value): Value => (spec.mutation === 'past-cast-to-int' ? b.op(Op.Cast, [x], [intAttr('to', DataType.INT32)]) : x);
      kEdge = b.op(Op.Concat, [past(pk), kEdge], [intAttr('axis', cacheAxis)]);
      vEdge = b.op(Op.Concat, [past(pv), vEdge], [intAttr('axis', cacheAxis)]);
      b.output(kEdge, `present.${index}.key`);
      b.output(vEdge, `present.${index}.value`);
      present = [kEdge.name, vEdge.name];
    }
    const repeat = (v: Value): Value =>
      ratio === 1
        ? v
        : b.op(Op.Reshape, [
            // near miss: an Unsqueeze on another axis is no grouped-query repeat
            b.op(Op.Expand, [b.op(Op.Unsqueeze, [v, this.i64(`axes_${index}`, [spec.mutation === 'repeat-unsqueeze-axis' ? 1 : 2])]), this.i64(`rep_${index}`, [1, 1, ratio, 1, 1])]),
            this.i64(`gqa_${index}`, [0, H, -1, D]),
          ]);
    const k = repeat(kEdge);
    const v = repeat(vEdge);
    let kT: Value;
    if (spec.mutation === 'no-key-transpose') kT = k;
    else if (spec.mutation === 'weights-as-key') kT = this.b.constF32(`wkey${index}`, [1, H, D, T], weights(H * D * T, 99));
    else if (spec.layout === 'BSHD') kT = b.op(Op.Transpose, [k], [intsAttr('perm', [0, 2, 3, 1])]);
    else if (spec.layout === 'BHSD') kT = b.op(Op.Transpose, [k], [intsAttr('perm', [0, 1, 3, 2])]);
    else {
      const flat = b.op(Op.Reshape, [k, this.i64(`flat_${index}`, [-1, T, D])]);
      const flatT = b.op(Op.Transpose, [flat], [intsAttr('perm', [0, 2, 1])]);
      kT = b.op(Op.Reshape, [flatT, this.i64(`unflat_${index}`, [1, H, D, T])]);
    }
    const c = 1 / Math.sqrt(D);
    let qs = q;
    if (spec.scale === 'q-mul') qs = b.op(Op.Mul, [q, this.f(`c${index}`, c)]);
    if (spec.scale === 'split') {
      qs = b.op(Op.Mul, [q, this.f(`sq${index}`, Math.sqrt(c))]);
      kT = b.op(Op.Mul, [kT, this.f(`sk${index}`, Math.sqrt(c))]);
    }
    let s = b.op(Op.MatMul, [qs, kT]);
    const rawScores = s;
    if (spec.scale === 'scores-mul') s = b.op(Op.Mul, [s, this.f(`c${index}`, c)]);
    if (spec.scale === 'scores-div') s = b.op(Op.Div, [s, this.f(`d${index}`, Math.sqrt(D))]);
    if (spec.mask === 'add') s = b.op(Op.Add, [s, this.b.constF32(`mask${index}`, [1, 1, SEQ, T], weights(SEQ * T, 5).map((z) => (z > 0.3 ? -1e4 : 0)))]);
    if (spec.mask === 'where') {
      const cond = b.initializer(`cond${index}`, new Tensor(`cond${index}`, DataType.BOOL, [1, 1, SEQ, T], { kind: 'raw', bytes: Uint8Array.from({ length: SEQ * T }, (_, i) => (i % 3 === 2 ? 0 : 1)) }));
      s = b.op(Op.Where, [cond, s, this.f(`fill${index}`, -1e4)]);
    }
    const axis = spec.mutation === 'softmax-axis' ? 2 : spec.softmaxAxis;
    // near miss: a Cast to an integer type changes the values; only float casts are looked through
    if (spec.mutation === 'cast-to-int') s = b.op(Op.Cast, [s], [intAttr('to', DataType.INT64)]);
    let p = b.op(Op.Softmax, [s], [intAttr('axis', axis)]);
    if (spec.castAfterSoftmax) p = b.op(Op.Cast, [p], [intAttr('to', DataType.FLOAT)]);
    if (spec.nanGuard) p = b.op(Op.Where, [b.op(Op.IsNaN, [p]), this.f(`zero${index}`, 0), p]);
    const pv = b.op(Op.MatMul, [p, v]);
    let y = b.op(Op.Reshape, [b.op(Op.Transpose, [pv], [intsAttr('perm', [0, 2, 1, 3])]), this.i64(`merge_${index}`, [0, 0, H * D])]);
    y = b.op(Op.MatMul, [y, this.w(`wo${index}`, H * D, HIDDEN)]);
    if (spec.mutation === 'scores-escape') {
      // The raw scores also feed the block's output through another path.
      const side = b.op(Op.ReduceMax, [rawScores], [intsAttr('axes', [1, 3]), intAttr('keepdims', 0)]);
      y = b.op(Op.Add, [y, b.op(Op.Unsqueeze, [side, this.i64(`ax_${index}`, [2])])]);
    }
    const block = { spec, q: q.name, k: kEdge.name, v: vEdge.name, pv: pv.name, present };
    if (spec.mutation === 'none') this.planted.push(block);
    else this.nearMisses.push(block);
    return y;
  }

  /** A mixture-of-experts router: Softmax over a weight product, then a MatMul with weights. */
  router(x: Value): Value {
    const logits = this.b.op(Op.MatMul, [x, this.w('router', HIDDEN, 4)]);
    const p = this.b.op(Op.Softmax, [logits], [intAttr('axis', -1)]);
    return this.b.op(Op.Add, [x, this.b.op(Op.MatMul, [p, this.w('experts', 4, HIDDEN)])]);
  }

  /** A classifier head: Softmax of logits, as a graph output. */
  classifier(x: Value): void {
    const p = this.b.op(Op.Softmax, [this.b.op(Op.MatMul, [x, this.w('cls', HIDDEN, 5)])], [intAttr('axis', -1)]);
    this.b.output(p, 'classes');
  }

  /** Elementwise noise that keeps the shape. */
  noise(x: Value, kind: number): Value {
    const b = this.b;
    switch (kind % 4) {
      case 0:
        return b.op(Op.Relu, [x]);
      case 1:
        return b.op(Op.Add, [x, this.f(`n${this.seed++}`, 0.25)]);
      case 2:
        return b.op(Op.Mul, [x, b.op(Op.Sqrt, [b.op(Op.Abs, [x])])]);
      default:
        return b.op(Op.Identity, [x]);
    }
  }
}

/** Build a graph with the given blocks (some maybe mutated), decoys and noise between them. */
export function buildAttentionGraph(blocks: readonly BlockSpec[], noise: readonly number[], decoys: { router: boolean; classifier: boolean }): AttentionGraph {
  const g = new AttentionGraph();
  let h = g.input();
  blocks.forEach((spec, i) => {
    h = g.noise(h, noise[i] ?? 3);
    h = g.block(h, spec, i);
    if (i === 0 && decoys.router) h = g.router(h);
  });
  if (decoys.classifier) g.classifier(h);
  g.b.output(h, 'y');
  return g;
}


/** A chain of `length` elementwise nodes (Relu, Add, Identity in turn) in front of one attention block. */
export function deepChainModel(length: number): AttentionGraph {
  const g = new AttentionGraph();
  let h = g.input();
  for (let i = 0; i < length; i++) h = g.noise(h, [0, 1, 3][i % 3]!);
  const spec: BlockSpec = { heads: 2, ratio: 1, headDim: 4, layout: 'BHSD', scale: 'scores-mul', mask: 'none', cache: false, castAfterSoftmax: false, nanGuard: false, softmaxAxis: -1, projection: 'separate', mutation: 'none' };
  g.b.output(g.block(h, spec, 0), 'y');
  return g;
}

/**
 * The deep chain above, plus three long side chains of `side` nodes each, for the walks that
 * follow producers or consumers: the scores' scale constant reaches its Mul through alternating
 * Identity and float Cast nodes (constant folding of a scalar), the query's head Reshape gets
 * its shape vector through Identity nodes (constant folding of a shape), and the softmax
 * probabilities leave the graph through an Identity chain (a use that reads no values).
 */
export function deepWalksModel(chain: number, side: number): AttentionGraph {
  const g = deepChainModel(chain);
  const b = g.b;
  const nodes = g.model.graph.nodes;
  const through = (v: Value, n: number, cast: boolean): Value => {
    let h = v;
    for (let i = 0; i < n; i++) h = cast && i % 2 === 1 ? b.op(Op.Cast, [h], [intAttr('to', DataType.FLOAT)]) : b.op(Op.Identity, [h]);
    return h;
  };
  const scaleMul = nodes.find((n) => n.is(Op.Mul) && n.inputs[1]?.name === 'c0')!;
  scaleMul.replaceInput(1, through(scaleMul.inputs[1]!, side, true));
  const qReshape = nodes.find((n) => n.is(Op.Reshape) && n.inputs[1]?.name.startsWith('shape_0'))!;
  qReshape.replaceInput(1, through(qReshape.inputs[1]!, side, false));
  const softmax = nodes.find((n) => n.is(Op.Softmax))!;
  b.output(through(softmax.output(0), side, false), 'probs');
  sortGraph(g.model.graph);
  return g;
}
