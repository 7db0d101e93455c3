/**
 * The opset upgrade on small models built at the old opsets, one or more per entry of the change
 * table that converts: onnxruntime runs the ORIGINAL old-opset model for the expected outputs,
 * and the model raised to 13, 19 and 21 (each above its own opset) must verify and reproduce
 * them. Cases the upgrade cannot express must be refused with their reason. Inputs take
 * distinct values, so a wrong axis, order or rounding shows.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType, AttributeProtoSchema, FunctionProtoSchema, ModelProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, ValueInfoProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { upgradeOpset } from '../../passes/upgrade-opset.js';
import type { RefusalReason } from '../../passes/upgrade-opset/step.js';
import { OpsetUpgradeError } from '../../src/errors.js';
import { floatAttr, floatsAttr, intAttr, intsAttr, stringAttr } from '../../src/ir/attribute.js';
import type { Attribute } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import { tensorType } from '../../src/ir/types.js';
import type { Value } from '../../src/ir/value.js';
import { verifyModel } from '../../src/ir/verify.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { OpId } from '../../src/onnx/ops.js';
import { decodeModel } from '../../src/onnx/serde.js';
import { differsFromOrt } from '../harness/outputs.js';
import { applyRules, bytesOf, removeQdq, run } from '../harness/rewrite.js';
import { loadRuleSet } from '../../src/rules/load.js';

/** Old ops (Upsample, Scatter, …) have no place in the op table; the tests name them here. */
const op = (opType: string): OpId => ({ domain: '', opType });
const IR_FOR: Record<number, number> = { 13: 7, 19: 9, 21: 10 };

/** A model under construction at an old opset, with the feeds for its inputs. */
class Fixture {
  readonly model: Model;
  readonly b: GraphBuilder;
  readonly feeds = new Map<string, Tensor>();
  private seed = 1;

  constructor(opset: number) {
    this.model = emptyModel({ '': opset }, 7);
    this.b = new GraphBuilder(this.model);
  }

  /** A float input with distinct values (`positive`: all > 0), or the given values. */
  input(name: string, dims: number[], values?: number[], type: DataType = DataType.FLOAT): Value {
    const n = dims.reduce((a, c) => a * c, 1);
    const s = this.seed++;
    const vs = values ?? Array.from({ length: n }, (_, i) => Math.round(Math.sin(i * 1.7 + s * 0.9) * 300) / 100 + i * 1e-3);
    this.feeds.set(name, type === DataType.INT64 ? Tensor.fromInt64(name, dims, vs) : Tensor.fromFloat32(name, type, dims, vs));
    return this.b.input(name, type, dims);
  }

  /** A float input of the given shape whose declared type has no shape (rank unknown). */
  untypedRankInput(name: string, dims: number[]): Value {
    const v = this.input(name, dims);
    v.type = tensorType(DataType.FLOAT);
    return v;
  }

  node(opType: string, inputs: (Value | undefined)[], attrs: Attribute[] = [], outputs = 1): Value[] {
    return this.b.node(op(opType), inputs, attrs, { outputs }).outputs as Value[];
  }

  out(...vs: Value[]): void {
    vs.forEach((v, i) => this.b.output(v, `y${i}`));
  }
}

interface Case {
  readonly name: string;
  readonly opset: number;
  build(f: Fixture): void;
  /** Checks on the upgraded model beyond reproducing the outputs. */
  check?(m: Model, target: number): void;
  /** The upgrade must refuse, for targets at or above `at`, with this reason. */
  refuses?: { reason: RefusalReason; at: number };
  /** Targets to raise to, when not every one of 13, 19, 21 above the model's opset. */
  targets?: number[];
}

const nodesOf = (m: Model, opType: string) => [...m.allNodes()].filter((n) => n.op.opType === opType);
const positive = (n: number) => Array.from({ length: n }, (_, i) => 0.5 + ((i * 7) % 11) / 4);

function padOfUntyped(f: Fixture): void {
  const [r] = f.node('Relu', [f.input('x', [2, 2])]);
  f.out(f.node('Pad', [r], [intsAttr('pads', [0, 1, 0, 1]), floatAttr('value', -2.25)])[0]!);
}

const REDUCE_OPS = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

const CASES: Case[] = [
  {
    name: 'Unsqueeze-11 axes attribute (raised to 19 it must become an input)',
    opset: 11,
    build: (f) => f.out(f.node('Unsqueeze', [f.input('x', [2, 3])], [intsAttr('axes', [0, 3])])[0]!),
    check: (m) => {
      const [u] = nodesOf(m, 'Unsqueeze');
      expect([u!.attributes.has('axes'), u!.inputs.length, u!.input(1)?.initializer?.toNumbers()]).toEqual([false, 2, [0, 3]]);
    },
  },
  {
    name: 'ReduceSum-11 axes, keepdims=0',
    opset: 11,
    build: (f) => f.out(f.node('ReduceSum', [f.input('x', [2, 3, 4])], [intsAttr('axes', [1]), intAttr('keepdims', 0)])[0]!),
    check: (m) => expect(nodesOf(m, 'ReduceSum')[0]!.attributes.has('axes')).toBe(false),
  },
  { name: 'ReduceSum-11 without axes (all)', opset: 11, build: (f) => f.out(f.node('ReduceSum', [f.input('x', [2, 3])])[0]!) },
  { name: 'Squeeze-11 axes', opset: 11, build: (f) => f.out(f.node('Squeeze', [f.input('x', [2, 1, 3, 1])], [intsAttr('axes', [-1])])[0]!) },
  { name: 'Squeeze-11 without axes', opset: 11, build: (f) => f.out(f.node('Squeeze', [f.input('x', [2, 1, 3, 1])])[0]!) },
  ...REDUCE_OPS.map(
    (r): Case => ({
      name: `${r}-13 axes=[0,-1] keepdims=0`,
      opset: 13,
      build: (f) => f.out(f.node(r, [f.input('x', [2, 3, 4], positive(24))], [intsAttr('axes', [0, -1]), intAttr('keepdims', 0)])[0]!),
      check: (m, t) => expect(nodesOf(m, r)[0]!.inputs.length).toBe(t >= 18 ? 2 : 1),
    }),
  ),
  { name: 'ReduceMean-17 axes (raised past 18)', opset: 17, build: (f) => f.out(f.node('ReduceMean', [f.input('x', [3, 4])], [intsAttr('axes', [1])])[0]!) },
  { name: 'Split-11 split=[1,3] on axis 1', opset: 11, build: (f) => f.out(...f.node('Split', [f.input('x', [2, 4, 3])], [intAttr('axis', 1), intsAttr('split', [1, 3])], 2)) },
  {
    name: 'Split-11 equal parts',
    opset: 11,
    build: (f) => f.out(...f.node('Split', [f.input('x', [6, 2])], [], 3)),
    check: (m, t) => expect(nodesOf(m, 'Split')[0]!.intAttr('num_outputs')).toBe(t >= 18 ? 3 : undefined),
  },
  { name: 'Split-13 equal parts, raised past 18', opset: 13, build: (f) => f.out(...f.node('Split', [f.input('x', [2, 6])], [intAttr('axis', -1)], 2)) },
  {
    name: 'Slice-9 starts/ends/axes with clamped and negative bounds',
    opset: 9,
    build: (f) => f.out(f.node('Slice', [f.input('x', [3, 5])], [intsAttr('starts', [1, -4]), intsAttr('ends', [1000, -1]), intsAttr('axes', [0, 1])])[0]!),
  },
  { name: 'Slice-9 without axes', opset: 9, build: (f) => f.out(f.node('Slice', [f.input('x', [3, 5])], [intsAttr('starts', [0, 1]), intsAttr('ends', [2, 4])])[0]!) },
  {
    name: 'Pad-2 constant with value 1.5',
    opset: 10,
    build: (f) => f.out(f.node('Pad', [f.input('x', [2, 3])], [intsAttr('pads', [1, 0, 0, 2]), floatAttr('value', 1.5)])[0]!),
  },
  { name: 'Pad-2 reflect', opset: 10, build: (f) => f.out(f.node('Pad', [f.input('x', [3, 4])], [intsAttr('pads', [0, 1, 1, 2]), stringAttr('mode', 'reflect')])[0]!) },
  { name: 'Pad-2 edge', opset: 9, build: (f) => f.out(f.node('Pad', [f.input('x', [2, 3])], [intsAttr('pads', [1, 1, 0, 0]), stringAttr('mode', 'edge')])[0]!) },
  {
    name: 'Pad-2 value on a value of undeclared type (CastLike from 15)',
    opset: 10,
    build: padOfUntyped,
    targets: [19, 21],
    check: (m) => expect(nodesOf(m, 'CastLike').length).toBe(1),
  },
  { name: 'Pad-2 value on a value of undeclared type, raised to 13', opset: 10, build: padOfUntyped, targets: [13], refuses: { reason: 'element-type-unknown', at: 11 } },
  { name: 'Clip-6 min/max', opset: 10, build: (f) => f.out(f.node('Clip', [f.input('x', [2, 4])], [floatAttr('min', -0.5), floatAttr('max', 0.75)])[0]!) },
  {
    name: 'Clip-6 default bounds clamp ±inf to the float limits',
    opset: 10,
    build: (f) => f.out(f.node('Clip', [f.input('x', [4], [Infinity, -Infinity, 1, -3])])[0]!),
  },
  { name: 'Clip-6 min only', opset: 9, build: (f) => f.out(f.node('Clip', [f.input('x', [2, 3])], [floatAttr('min', 0.25)])[0]!) },
  { name: 'Dropout-7 ratio (inference)', opset: 9, build: (f) => f.out(f.node('Dropout', [f.input('x', [2, 3])], [floatAttr('ratio', 0.3)])[0]!) },
  { name: 'Dropout-10 ratio with an unread mask', opset: 11, build: (f) => f.out(f.node('Dropout', [f.input('x', [2, 3])], [floatAttr('ratio', 0.2)], 2)[0]!) },
  {
    name: 'Dropout-7 whose mask is read',
    opset: 9,
    build: (f) => f.out(...f.node('Dropout', [f.input('x', [2, 3])], [], 2)),
    refuses: { reason: 'dropout-mask-type', at: 10 },
  },
  {
    name: 'BatchNormalization-7 spatial=1',
    opset: 8,
    build: (f) => {
      const c = (n: string, v: number[]) => f.b.constF32(n, [3], v);
      f.out(f.node('BatchNormalization', [f.input('x', [2, 3, 2, 2]), c('s', [0.5, 1.5, -2]), c('bias', [0.1, -0.2, 0.3]), c('mean', [0.2, -0.4, 1]), c('var', [1, 2.5, 0.25])], [intAttr('spatial', 1), floatAttr('epsilon', 1e-3)])[0]!);
    },
  },
  {
    name: 'BatchNormalization-7 spatial=0',
    opset: 8,
    build: (f) => f.out(f.node('BatchNormalization', [f.input('x', [2, 3]), f.input('s', [3]), f.input('b', [3]), f.input('m', [3]), f.input('v', [3], positive(3))], [intAttr('spatial', 0)])[0]!),
    refuses: { reason: 'batchnorm-not-spatial', at: 9 },
  },
  {
    name: 'BatchNormalization-9 with training outputs',
    opset: 9,
    build: (f) => f.out(f.node('BatchNormalization', [f.input('x', [2, 3]), f.input('s', [3]), f.input('b', [3]), f.input('m', [3]), f.input('v', [3], positive(3))], [], 3)[0]!),
    refuses: { reason: 'batchnorm-training-outputs', at: 14 },
  },
  { name: 'TopK-1 k attribute', opset: 9, build: (f) => f.out(...f.node('TopK', [f.input('x', [3, 5])], [intAttr('k', 2), intAttr('axis', 1)], 2)) },
  {
    name: 'Scatter-9 → ScatterElements',
    opset: 10,
    build: (f) => f.out(f.node('Scatter', [f.input('data', [3, 3]), f.input('idx', [2, 3], [1, 0, 2, 0, 2, 1], DataType.INT64), f.input('upd', [2, 3])], [intAttr('axis', 0)])[0]!),
    check: (m) => expect([nodesOf(m, 'Scatter').length, nodesOf(m, 'ScatterElements').length]).toEqual([0, 1]),
  },
  {
    name: 'Upsample-7 nearest, scales attribute [1,1,2,3]',
    opset: 8,
    build: (f) => f.out(f.node('Upsample', [f.input('x', [1, 1, 2, 2])], [floatsAttr('scales', [1, 1, 2, 3])])[0]!),
    check: (m) => expect([nodesOf(m, 'Upsample').length, nodesOf(m, 'Resize').length]).toEqual([0, 1]),
  },
  { name: 'Upsample-7 linear', opset: 7, build: (f) => f.out(f.node('Upsample', [f.input('x', [1, 1, 2, 3])], [floatsAttr('scales', [1, 1, 2, 2]), stringAttr('mode', 'linear')])[0]!) },
  {
    name: 'Upsample-9 nearest, fractional scales as a graph input',
    opset: 9,
    build: (f) => f.out(f.node('Upsample', [f.input('x', [1, 1, 2, 3]), f.input('scales', [4], [1, 1, 2.5, 1.5])])[0]!),
  },
  { name: 'Resize-10 nearest, constant upsampling scales', opset: 10, build: (f) => f.out(f.node('Resize', [f.input('x', [1, 1, 2, 2]), f.b.constF32('sc', [4], [1, 1, 2.5, 3])])[0]!) },
  {
    name: 'Resize-10 linear downsampling',
    opset: 10,
    build: (f) => f.out(f.node('Resize', [f.input('x', [1, 1, 4, 4]), f.b.constF32('sc', [4], [1, 1, 0.5, 0.75])], [stringAttr('mode', 'linear')])[0]!),
  },
  {
    name: 'Resize-10 nearest downsampling',
    opset: 10,
    build: (f) => f.out(f.node('Resize', [f.input('x', [1, 1, 4, 4]), f.b.constF32('sc', [4], [1, 1, 0.5, 0.5])])[0]!),
    refuses: { reason: 'resize-nearest-rounding', at: 11 },
  },
  {
    name: 'Softmax-11 on the last axis (axis=-1) keeps one node',
    opset: 11,
    build: (f) => f.out(f.node('Softmax', [f.input('x', [2, 3, 4])], [intAttr('axis', -1)])[0]!),
    check: (m) => expect([nodesOf(m, 'Softmax').length, nodesOf(m, 'Flatten').length, nodesOf(m, 'Softmax')[0]!.intAttr('axis')]).toEqual([1, 0, -1]),
  },
  {
    name: 'Softmax-11 axis=2 of a declared rank-3 input keeps one node',
    opset: 11,
    build: (f) => f.out(f.node('Softmax', [f.input('x', [2, 3, 4])], [intAttr('axis', 2)])[0]!),
    check: (m) => expect(nodesOf(m, 'Flatten').length).toBe(0),
  },
  {
    name: 'Softmax-11 default axis (1) coerces [2,3,4] to [2,12]',
    opset: 11,
    build: (f) => f.out(f.node('Softmax', [f.input('x', [2, 3, 4])])[0]!),
    check: (m) => expect(nodesOf(m, 'Flatten').length).toBe(1),
  },
  { name: 'Softmax-11 axis=2 of an input of unknown rank', opset: 11, build: (f) => f.out(f.node('Softmax', [f.untypedRankInput('x', [2, 3, 4])], [intAttr('axis', 2)])[0]!) },
  { name: 'LogSoftmax-11 axis=1 of rank 4', opset: 11, build: (f) => f.out(f.node('LogSoftmax', [f.input('x', [2, 2, 3, 2])], [intAttr('axis', 1)])[0]!) },
  { name: 'Hardmax-11 axis=1 of rank 3', opset: 11, build: (f) => f.out(f.node('Hardmax', [f.input('x', [2, 3, 4])], [intAttr('axis', 1)])[0]!) },
  {
    name: 'DFT-17 axis=1 (an input from 20)',
    opset: 17,
    build: (f) => f.out(f.node('DFT', [f.input('x', [2, 5, 1])], [intAttr('axis', 1)])[0]!),
    check: (m, t) => expect(nodesOf(m, 'DFT')[0]!.inputs.length).toBe(t >= 20 ? 3 : 1),
  },
  { name: 'DFT-17 default axis (1, not the new -2) of rank 4, onesided', opset: 17, build: (f) => f.out(f.node('DFT', [f.input('x', [2, 4, 3, 1])], [intAttr('onesided', 1)])[0]!) },
  {
    name: 'GridSample-16 bicubic (renamed cubic at 20)',
    opset: 16,
    build: (f) => f.out(f.node('GridSample', [f.input('x', [1, 1, 3, 4]), f.input('g', [1, 2, 2, 2], [-0.9, -0.5, 0.3, 0.8, 0.1, -0.2, 0.7, 0.4])], [stringAttr('mode', 'bicubic')])[0]!),
    check: (m, t) => expect(nodesOf(m, 'GridSample')[0]!.stringAttr('mode')).toBe(t >= 20 ? 'cubic' : 'bicubic'),
  },
  {
    name: 'GridSample-16 bilinear',
    opset: 16,
    build: (f) => f.out(f.node('GridSample', [f.input('x', [1, 2, 3, 3]), f.input('g', [1, 1, 3, 2], [-0.7, 0.2, 0.5, -0.4, 0.9, 0.6])], [stringAttr('mode', 'bilinear'), intAttr('align_corners', 1)])[0]!),
  },
  {
    name: 'RoiAlign-10 (output_half_pixel made explicit at 16)',
    opset: 10,
    build: (f) =>
      f.out(
        f.node('RoiAlign', [f.input('x', [1, 1, 5, 5]), f.input('rois', [1, 4], [0.6, 1.1, 3.3, 3.9]), f.input('bi', [1], [0], DataType.INT64)], [intAttr('output_height', 2), intAttr('output_width', 3), intAttr('sampling_ratio', 2)])[0]!,
      ),
  },
  {
    name: 'GroupNormalization-18 with constant per-group scale and bias',
    opset: 18,
    build: (f) => f.out(f.node('GroupNormalization', [f.input('x', [2, 4, 2, 3]), f.b.constF32('s', [2], [0.5, -1.5]), f.b.constF32('bias', [2], [0.25, 1])], [intAttr('num_groups', 2)])[0]!),
    check: (m, t) => expect(nodesOf(m, 'GroupNormalization')[0]!.input(1)!.initializer!.toNumbers()).toEqual(t >= 21 ? [0.5, 0.5, -1.5, -1.5] : [0.5, -1.5]),
  },
  {
    name: 'GroupNormalization-18 with scale and bias as graph inputs',
    opset: 18,
    build: (f) => f.out(f.node('GroupNormalization', [f.untypedRankInput('x', [1, 6, 2, 2]), f.input('s', [3]), f.input('b', [3])], [intAttr('num_groups', 3), floatAttr('epsilon', 1e-3)])[0]!),
  },
  {
    name: 'ConvTranspose-1 auto_pad=SAME_UPPER',
    opset: 10,
    build: (f) => f.out(f.node('ConvTranspose', [f.input('x', [1, 1, 3, 3]), f.input('w', [1, 1, 2, 2])], [stringAttr('auto_pad', 'SAME_UPPER'), intsAttr('strides', [2, 2])])[0]!),
    refuses: { reason: 'conv-transpose-same-padding', at: 11 },
  },
  { name: 'ConvTranspose-1 explicit pads', opset: 10, build: (f) => f.out(f.node('ConvTranspose', [f.input('x', [1, 1, 3, 3]), f.input('w', [1, 2, 2, 2])], [intsAttr('pads', [0, 1, 1, 0])])[0]!) },
  { name: 'Erf-9 of int32', opset: 9, build: (f) => f.out(f.node('Erf', [f.input('x', [3], [1, 2, 3], DataType.INT32)])[0]!), refuses: { reason: 'erf-integer-input', at: 13 } },
  {
    name: 'QuantizeLinear-10 of int32 with a float scale',
    opset: 10,
    build: (f) => f.out(f.node('QuantizeLinear', [f.input('x', [3], [1, 2, 3], DataType.INT32), f.b.constF32('s', [], [0.5])])[0]!),
    refuses: { reason: 'quantize-int32-input', at: 19 },
  },
  {
    name: 'QuantizeLinear-10 / DequantizeLinear-10 (unchanged meaning)',
    opset: 10,
    build: (f) => {
      const s = f.b.constF32('s', [], [0.05]);
      const zp = f.b.initializer('zp', Tensor.fromFloat32('', DataType.UINT8, [], [7]));
      const [q] = f.node('QuantizeLinear', [f.input('x', [2, 3]), s, zp]);
      f.out(f.node('DequantizeLinear', [q, s, zp])[0]!);
    },
  },
  {
    name: 'Compatible ops at opset 7 (Gemm, Concat, Flatten, Max with broadcast at 8, Cast, MaxPool, AveragePool)',
    opset: 8,
    build: (f) => {
      const x = f.input('x', [1, 2, 4, 4]);
      const [p] = f.node('MaxPool', [x], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2])]);
      const [a] = f.node('AveragePool', [x], [intsAttr('kernel_shape', [2, 2]), intsAttr('strides', [2, 2]), intAttr('count_include_pad', 1)]);
      const [c] = f.node('Concat', [p, a], [intAttr('axis', 1)]);
      const [fl] = f.node('Flatten', [c], [intAttr('axis', 1)]);
      const [g] = f.node('Gemm', [fl, f.b.constF32('w', [16, 3], Array.from({ length: 48 }, (_, i) => ((i * 5) % 7) / 7 - 0.4)), f.b.constF32('c', [3], [0.1, 0.2, -0.3])], [floatAttr('alpha', 0.5), intAttr('transB', 0)]);
      const [m] = f.node('Max', [g, f.b.constF32('floor', [3], [0, -0.1, 0.2])]);
      f.out(f.node('Cast', [m], [intAttr('to', DataType.DOUBLE)])[0]!);
    },
  },
  {
    name: 'If-11 whose branches hold Unsqueeze/ReduceSum with axes attributes',
    opset: 11,
    build: (f) => {
      const x = f.input('x', [2, 3]);
      const cond = f.input('c', [], [1], DataType.BOOL);
      const branch = (name: string, opType: string, axes: number[]): Graph => {
        const g = new Graph(name, f.model.graph);
        const gb = new GraphBuilder(f.model, g);
        gb.output(gb.op(op(opType), [x], [intsAttr('axes', axes)], `${name}_op`));
        return g;
      };
      const [y] = f.b.node(op('If'), [cond], [
        { name: 'then_branch', value: { kind: 'graph', value: branch('then', 'ReduceSum', [1]) } },
        { name: 'else_branch', value: { kind: 'graph', value: branch('else', 'Unsqueeze', [0]) } },
      ]).outputs;
      f.out(y!);
    },
    check: (m) => expect([...m.allNodes()].filter((n) => n.attributes.has('axes')).map((n) => n.op.opType)).toEqual([]),
  },
  {
    name: 'ImageScaler (experimental, never in an opset)',
    opset: 8,
    build: (f) => f.out(f.node('ImageScaler', [f.input('x', [1, 2, 2, 2])], [floatsAttr('bias', [0.5, -0.5]), floatAttr('scale', 2)])[0]!),
    refuses: { reason: 'unknown-op', at: 9 },
  },
  {
    name: 'opset 6',
    opset: 6,
    build: (f) => f.out(f.node('Relu', [f.input('x', [2])])[0]!),
    refuses: { reason: 'opset-below-minimum', at: 7 },
  },
];

/** A BERT-style encoder block (self-attention with an additive mask, layer norm, Erf GELU) at opset 11 or 13. */
function bertBlock(f: Fixture, opset: number): void {
  const [S, H, D] = [4, 2, 3];
  const E = H * D;
  const w = (name: string, rows: number, cols: number, k: number) => f.b.constF32(name, [rows, cols], Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.7 + k) * 0.5));
  const axes = (name: string, values: number[]) => (opset >= 13 ? [f.b.constI64(name, [values.length], values)] : []);
  const axesAttr = (values: number[]) => (opset >= 13 ? [] : [intsAttr('axes', values)]);
  const x = f.input('x', [1, S, E]);
  const mask = f.input('mask', [1, S], [1, 1, 1, 0]);
  const heads = (v: Value, name: string) => {
    const [r] = f.node('Reshape', [v, f.b.constI64(`${name}_shape`, [4], [1, S, H, D])]);
    return f.node('Transpose', [r!], [intsAttr('perm', [0, 2, 1, 3])])[0]!;
  };
  const q = heads(f.node('MatMul', [x, w('wq', E, E, 1)])[0]!, 'q');
  const k = heads(f.node('MatMul', [x, w('wk', E, E, 2)])[0]!, 'k');
  const v = heads(f.node('MatMul', [x, w('wv', E, E, 3)])[0]!, 'v');
  const [kt] = f.node('Transpose', [k], [intsAttr('perm', [0, 1, 3, 2])]);
  const [scores] = f.node('Div', [f.node('MatMul', [q, kt!])[0]!, f.b.constF32('sqrt_d', [], [Math.sqrt(D)])]);
  const [m4] = f.node('Unsqueeze', [mask, ...axes('mask_axes', [1, 2])], axesAttr([1, 2]));
  const [bias] = f.node('Mul', [f.node('Sub', [f.b.constF32('one', [], [1]), m4!])[0]!, f.b.constF32('neg', [], [-10000])]);
  const [probs] = f.node('Softmax', [f.node('Add', [scores!, bias!])[0]!], [intAttr('axis', 3)]);
  const [ctx] = f.node('Transpose', [f.node('MatMul', [probs!, v])[0]!], [intsAttr('perm', [0, 2, 1, 3])]);
  const [merged] = f.node('Reshape', [ctx!, f.b.constI64('merged_shape', [3], [1, S, E])]);
  const [res] = f.node('Add', [merged!, x]);
  const [mean] = f.node('ReduceMean', [res!], [intsAttr('axes', [-1])]);
  const [centered] = f.node('Sub', [res!, mean!]);
  const [variance] = f.node('ReduceMean', [f.node('Pow', [centered!, f.b.constF32('two', [], [2])])[0]!], [intsAttr('axes', [-1])]);
  const [normed] = f.node('Div', [centered!, f.node('Sqrt', [f.node('Add', [variance!, f.b.constF32('eps', [], [1e-5])])[0]!])[0]!]);
  const [h] = f.node('MatMul', [normed!, w('w1', E, E, 4)]);
  const [erf] = f.node('Erf', [f.node('Div', [h!, f.b.constF32('sqrt2', [], [Math.SQRT2])])[0]!]);
  const [gelu] = f.node('Mul', [f.node('Mul', [h!, f.node('Add', [erf!, f.b.constF32('one_b', [], [1])])[0]!])[0]!, f.b.constF32('half', [], [0.5])]);
  const [firstToken] = f.node('Squeeze', [f.node('Slice', [gelu!, f.b.constI64('s0', [1], [0]), f.b.constI64('s1', [1], [1]), f.b.constI64('s2', [1], [1])])[0]!, ...axes('sq_axes', [1])], axesAttr([1]));
  f.out(gelu!, firstToken!);
}

CASES.push(
  {
    name: 'BERT-style block at opset 11',
    opset: 11,
    build: (f) => bertBlock(f, 11),
    check: (m, t) => {
      expect([...m.allNodes()].filter((n) => n.attributes.has('axes')).map((n) => n.op.opType)).toEqual(t >= 18 ? [] : ['ReduceMean', 'ReduceMean']);
      // Softmax axis=3 on scores whose rank 4 is derived through the graph: one node, axis -1.
      expect([nodesOf(m, 'Flatten').length, nodesOf(m, 'Softmax')[0]!.intAttr('axis')]).toEqual([0, -1]);
    },
  },
  { name: 'BERT-style block at opset 13', opset: 13, build: (f) => bertBlock(f, 13) },
);

describe('opset upgrade of hand-built old-opset models', () => {
  for (const c of CASES) {
    const targets = c.targets ?? [13, 19, 21].filter((t) => t > c.opset);
    it(`${c.name} (opset ${c.opset} → ${targets.join(', ')})`, async () => {
      const build = (): Fixture => {
        const f = new Fixture(c.opset);
        c.build(f);
        return f;
      };
      const reference = build();
      if (c.refuses !== undefined) {
        for (const t of targets) {
          const m = build().model;
          if (t < c.refuses.at) continue;
          let reason: string | undefined;
          try {
            upgradeOpset(m, t, IR_FOR[t]!);
          } catch (e) {
            if (!(e instanceof OpsetUpgradeError)) throw e;
            reason = e.reason;
          }
          expect(reason, `target ${t}`).toBe(c.refuses.reason);
        }
        return;
      }
      const expected = await run(reference.model, reference.feeds);
      for (const t of targets) {
        const { model } = build();
        upgradeOpset(model, t, IR_FOR[t]!);
        verifyModel(model, `${c.name} at ${t}`);
        expect(model.opsetVersion('')).toBe(t);
        c.check?.(model, t);
        const got = await run(model, reference.feeds);
        const diffs = model.graph.outputs.map((o) => differsFromOrt(got[o.name], expected[o.name]!)).filter((d) => d !== undefined);
        expect(diffs, `target ${t}`).toEqual([]);
      }
    });
  }
});

describe('opset upgrade of a model-local function', () => {
  /** main: y = local.F(x); F(x) = ReduceSum(Unsqueeze(x) {axes=[0]}) {axes=[-1]}, all at opset 11. */
  function withFunction(): Model {
    const attr = (name: string, ints: number[]) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: ints.map(BigInt) });
    const opset = (domain: string, version: number) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) });
    const fn = create(FunctionProtoSchema, {
      name: 'F',
      domain: 'local',
      input: ['a'],
      output: ['r'],
      opsetImport: [opset('', 11)],
      node: [
        create(NodeProtoSchema, { opType: 'Unsqueeze', input: ['a'], output: ['u'], attribute: [attr('axes', [0])] }),
        create(NodeProtoSchema, { opType: 'ReduceSum', input: ['u'], output: ['r'], attribute: [attr('axes', [-1])] }),
      ],
    });
    const tensorInfo = (name: string, dims: number[]) =>
      create(ValueInfoProtoSchema, {
        name,
        type: { value: { case: 'tensorType', value: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } } } },
      });
    const model = create(ModelProtoSchema, {
      irVersion: 7n,
      opsetImport: [opset('', 11), opset('local', 1)],
      functions: [fn],
      graph: { name: 'main', node: [create(NodeProtoSchema, { opType: 'F', domain: 'local', input: ['x'], output: ['y'] })], input: [tensorInfo('x', [2, 3])], output: [tensorInfo('y', [1, 2])] },
    });
    return decodeModel(toBinary(ModelProtoSchema, model), { file: 'function.onnx' });
  }

  it('converts the body (constants as Constant nodes) and raises its opset import', async () => {
    const feeds = new Map([['x', Tensor.fromFloat32('x', DataType.FLOAT, [2, 3], [0.5, -1.25, 2, 3.5, -0.75, 1])]]);
    const expected = await run(withFunction(), feeds);
    for (const t of [13, 19, 21]) {
      const m = withFunction();
      upgradeOpset(m, t, IR_FOR[t]!);
      const f = m.functions[0]!;
      expect([f.opsetImports.get(''), f.body.nodes.map((n) => n.op.opType)]).toEqual([t, ['Constant', 'Unsqueeze', 'Constant', 'ReduceSum']]);
      const reread = decodeModel(bytesOf(m), { file: 'upgraded.onnx' });
      expect(reread.functions[0]!.opsetImports.get('')).toBe(t);
      const got = await run(m, feeds);
      expect(differsFromOrt(got.y, expected.y!)).toBeUndefined();
    }
  });
});

describe('the compile hook: QDQ insertion raises an old model', () => {
  it('an opset-11 BERT block with fp8-head rules: its site is quantized at opset 19, and without the QDQ pairs it reproduces the original', async () => {
    const reference = new Fixture(11);
    bertBlock(reference, 11);
    const expected = await run(reference.model, reference.feeds);
    const f = new Fixture(11);
    bertBlock(f, 11);
    const { result, edges } = applyRules(f.model, loadRuleSet('fp8-head'), (e) => Array.from({ length: e.heads }, (_, h) => 0.02 + 0.01 * h));
    expect([edges.length > 0, result.inserted > 0, f.model.opsetVersion(''), f.model.irVersion]).toEqual([true, true, 19, 9]);
    verifyModel(f.model, 'compiled BERT block');
    expect(removeQdq(f.model)).toBe(result.inserted);
    const got = await run(f.model, reference.feeds);
    expect(f.model.graph.outputs.map((o) => differsFromOrt(got[o.name], expected[o.name]!)).filter((d) => d !== undefined)).toEqual([]);
  });
});
