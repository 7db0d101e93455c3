/**
 * Every version change of a default-domain operator from opset 8 to 21, as data: (op, the
 * version it changed at, and the converter that keeps an old node's meaning). Entries without a
 * converter mean the same at the new version: types added, differentiability tags, negative
 * axes allowed, or new attributes and inputs whose defaults are the old behaviour.
 *
 * Source: docs/Changelog.md of onnx/onnx ("Op-N" is the section for version N of Op); each
 * entry's comment says what changed. Ops first defined after 7 appear only from their second
 * version. Deprecated ops are converted to their successor, whose own later entries then apply:
 * Scatter (deprecated at 11) to ScatterElements-11; Upsample (deprecated at 10, meaning
 * Resize-10) straight to Resize-11 where 11 is crossed, since only an Upsample's scales are
 * known to be ≥ 1 (see resize.ts).
 */
import type { Node } from '../../src/ir/node.js';
import { axesToInput } from './axes.js';
import { batchNormSpatial, batchNormTrainingOutputs } from './batch-normalization.js';
import { convTransposeSamePadding, erfFloatOnly, quantizeSharedScaleType, scanWithoutBatchAxis } from './checks.js';
import { clipToInputs } from './clip.js';
import { dftAxisToInput } from './dft.js';
import { dropoutMaskBool, dropoutRatioToInput } from './dropout.js';
import { gridSampleModeNames } from './grid-sample.js';
import { groupNormPerChannel } from './group-normalization.js';
import { padToInputs } from './pad.js';
import { resizeExplicitModes, resizeNoTfHalfPixelForNn, upsampleScalesToInput, upsampleToResize } from './resize.js';
import { roiAlignCoordinateMode } from './roi-align.js';
import { scatterToScatterElements } from './scatter.js';
import { sliceToInputs } from './slice.js';
import { coercedAxisToAxis } from './softmax.js';
import { splitNumOutputs, splitToInput } from './split.js';
import type { Step } from './step.js';
import { topkToInput } from './topk.js';

/** Rewrites the step's node in place, or returns the node that replaces it. */
export type Converter = (s: Step) => Node | undefined | void;

export interface OpChange {
  readonly op: string;
  readonly since: number;
  readonly convert?: Converter;
  /**
   * The op is deprecated from `since` and means its successor's version `since` at any later
   * opset too: the conversion applies to every model below the target, whatever its opset.
   */
  readonly deprecated?: true;
}

const same = (op: string, ...versions: number[]): OpChange[] => versions.map((since) => ({ op, since }));
const convert = (op: string, since: number, fn: Converter): OpChange[] => [{ op, since, convert: fn }];
const deprecated = (op: string, since: number, fn: Converter): OpChange[] => [{ op, since, convert: fn, deprecated: true }];
const REDUCE_AT_18 = ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare'];

export const OPSET_CHANGES: readonly OpChange[] = [
  ...same('Abs', 13), // Abs-13: bfloat16
  ...same('Add', 13, 14), // Add-13: bfloat16; Add-14: 8/16-bit integers
  ...same('ArgMax', 11, 12, 13), // ArgMax-11: negative axis; -12: select_last_index (default 0 = before); -13: bfloat16
  ...same('ArgMin', 11, 12, 13), // as ArgMax
  ...same('AveragePool', 10, 11, 19), // AveragePool-10: ceil_mode (default 0); -11: dilations in the shape formulas; -19: dilations (default 1)
  ...convert('BatchNormalization', 9, batchNormSpatial), // BatchNormalization-9: `spatial` removed
  ...convert('BatchNormalization', 14, batchNormTrainingOutputs), // BatchNormalization-14: training_mode; outputs mean/var/saved_* removed
  ...same('BatchNormalization', 15), // BatchNormalization-15: scale/bias and mean/var type variables split
  ...same('Cast', 9, 13, 19, 21), // Cast-9: string; -13: bfloat16; -19: float8 and `saturate` (float8 only); -21: int4
  ...same('CastLike', 19, 21), // as Cast
  ...same('Ceil', 13), // bfloat16
  ...convert('Clip', 11, clipToInputs), // Clip-11: min/max attributes become inputs
  ...same('Clip', 12, 13), // Clip-12: integer types; -13: bfloat16
  ...same('Compress', 11), // Compress-11: negative axis
  ...same('Concat', 11, 13), // Concat-11: negative axis; -13: bfloat16
  ...same('Constant', 9, 11, 12, 13, 19, 21), // types added; -11: sparse_value; -12: value_float/ints/…
  ...same('ConstantOfShape', 20, 21), // types added
  ...same('Conv', 11), // Conv-11: documentation of defaults only
  ...convert('ConvTranspose', 11, convTransposeSamePadding), // ConvTranspose-11: SAME_UPPER/LOWER padding split re-specified
  ...same('CumSum', 14), // CumSum-14: bfloat16, float16
  ...convert('DFT', 20, dftAxisToInput), // DFT-20: `axis` attribute (default 1) becomes an input (default -2)
  ...same('DepthToSpace', 11, 13), // DepthToSpace-11: mode (default DCR = before); -13: bfloat16
  ...same('DequantizeLinear', 13, 19, 21), // -13: axis (scalar scales before); -19: float8, scale type; -21: block_size (default 0), int4/16
  ...same('Div', 13, 14), // as Add
  ...convert('Dropout', 10, dropoutMaskBool), // Dropout-10: mask output type T → bool
  ...convert('Dropout', 12, dropoutRatioToInput), // Dropout-12: `ratio` attribute becomes an input; training_mode input, seed
  ...same('Dropout', 13), // bfloat16
  ...same('Equal', 11, 13, 19), // Equal-11: float types; -13: bfloat16; -19: string
  ...convert('Erf', 13, erfFloatOnly), // Erf-13: integer types dropped, bfloat16 added
  ...same('Exp', 13), // bfloat16
  ...same('Expand', 13), // bfloat16
  ...same('Flatten', 9, 11, 13, 21), // types; -11: negative axis
  ...same('Floor', 13), // bfloat16
  ...same('GRU', 14), // GRU-14: layout (default 0 = before)
  ...same('Gather', 11, 13), // Gather-11: negative indices; -13: bfloat16
  ...same('GatherElements', 13), // bfloat16
  ...same('GatherND', 12, 13), // GatherND-12: batch_dims (default 0); -13: bfloat16
  ...same('Gemm', 9, 11, 13), // Gemm-9: integer types; -11: C optional; -13: bfloat16
  ...same('Greater', 9, 13), // types added
  ...same('GreaterOrEqual', 16), // bfloat16
  ...convert('GridSample', 20, gridSampleModeNames), // GridSample-20: N-D; modes bilinear/bicubic renamed linear/cubic
  ...convert('GroupNormalization', 21, groupNormPerChannel), // GroupNormalization-21: scale/bias per channel, not per group; stash_type
  ...same('Hardmax', 11), // Hardmax-11: negative axis
  ...convert('Hardmax', 13, coercedAxisToAxis), // Hardmax-13: axis names one axis (was: coerce to 2-D), default -1 (was 1)
  ...same('Identity', 13, 14, 16, 19, 21), // types: bfloat16, sequences, optionals, float8, int4
  ...same('If', 11, 13, 16, 19, 21), // If-11: branches may differ in shape; types added
  ...same('IsInf', 20), // types added
  ...same('IsNaN', 13, 20), // types added
  ...same('LRN', 13), // bfloat16
  ...same('LSTM', 14), // LSTM-14: layout (default 0)
  ...same('LeakyRelu', 16), // bfloat16
  ...same('Less', 9, 13), // types added
  ...same('LessOrEqual', 16), // bfloat16
  ...same('Log', 13), // bfloat16
  ...same('LogSoftmax', 11), // LogSoftmax-11: negative axis
  ...convert('LogSoftmax', 13, coercedAxisToAxis), // LogSoftmax-13: as Softmax-13
  ...same('Loop', 11, 13, 16, 19, 21), // Loop-11: loop-carried shapes may vary; types added
  ...same('LpPool', 11, 18), // LpPool-11: tags; -18: ceil_mode, dilations (defaults = before)
  ...same('MatMul', 9, 13), // types added
  ...same('Max', 8, 12, 13), // Max-8: multidirectional broadcasting; -12: integers; -13: bfloat16
  ...same('MaxPool', 8, 10, 11, 12), // MaxPool-8: Indices output, storage_order; -10: ceil_mode, dilations; -11: defaults documented; -12: int8/uint8
  ...same('MaxUnpool', 11), // tags
  ...same('Mean', 8, 13), // Mean-8: broadcasting; -13: bfloat16
  ...same('MeanVarianceNormalization', 13), // bfloat16
  ...same('Min', 8, 12, 13), // as Max
  ...same('Mod', 13), // bfloat16
  ...same('Mul', 13, 14), // as Add
  ...same('Neg', 13), // bfloat16
  ...same('NegativeLogLikelihoodLoss', 13), // tags
  ...same('NonMaxSuppression', 11), // NonMaxSuppression-11: "IoU strictly greater" made explicit
  ...same('NonZero', 13), // bfloat16
  ...same('OneHot', 11), // OneHot-11: negative axis and indices
  ...same('OptionalGetElement', 18), // types added
  ...same('OptionalHasElement', 18), // input optional
  ...same('PRelu', 9, 16), // types added
  ...convert('Pad', 11, padToInputs), // Pad-11: pads and value attributes become inputs
  ...same('Pad', 13, 18, 19, 21), // Pad-13: types; -18: axes input (default all); -19: wrap mode; -21: types
  ...same('Pow', 12, 13, 15), // Pow-12: exponent type separate; types added
  ...same('QLinearMatMul', 21), // types added
  ...same('QuantizeLinear', 13), // QuantizeLinear-13: axis (scalar scales before)
  ...convert('QuantizeLinear', 19, quantizeSharedScaleType), // QuantizeLinear-19: y_scale has x's type; float8; saturate
  ...same('QuantizeLinear', 21), // block_size, output_dtype (defaults = before); int4/16
  ...same('RNN', 14), // RNN-14: layout (default 0)
  ...same('Reciprocal', 13), // bfloat16
  ...REDUCE_AT_18.flatMap((op) => same(op, 11, 13)), // Reduce*-11: negative axes; -13: bfloat16
  ...REDUCE_AT_18.flatMap((op) => convert(op, 18, axesToInput)), // Reduce*-18: `axes` attribute becomes an input
  ...same('ReduceMax', 12, 20), // ReduceMax-12: int8/uint8; -20: bool
  ...same('ReduceMin', 12, 20), // as ReduceMax
  ...same('ReduceSum', 11), // ReduceSum-11: negative axes
  ...convert('ReduceSum', 13, axesToInput), // ReduceSum-13: `axes` attribute becomes an input
  ...same('Relu', 13, 14), // bfloat16; -14: signed integers
  ...same('Reshape', 13, 14, 19, 21), // Reshape-14: allowzero (default 0 = before); types added
  ...convert('Resize', 11, resizeExplicitModes), // Resize-11: roi input; coordinate and nearest modes (defaults differ from 10)
  ...convert('Resize', 13, resizeNoTfHalfPixelForNn), // Resize-13: roi/scales optional; tf_half_pixel_for_nn removed
  ...same('Resize', 18, 19), // Resize-18: antialias, axes, keep_aspect_ratio_policy (defaults = before); -19: half_pixel_symmetric
  ...convert('RoiAlign', 16, roiAlignCoordinateMode), // RoiAlign-16: coordinate_transformation_mode, default half_pixel (was output_half_pixel)
  ...convert('Scan', 9, scanWithoutBatchAxis), // Scan-9: batch axis and sequence_lens removed; scan axes and directions
  ...same('Scan', 11, 16, 19, 21), // Scan-11: negative axes; types added
  ...deprecated('Scatter', 11, scatterToScatterElements), // Scatter deprecated at 11: ScatterElements-11
  ...same('ScatterElements', 13, 16, 18), // -13: bfloat16; -16: reduction (default none); -18: max/min reductions
  ...same('ScatterND', 13, 16, 18), // as ScatterElements
  ...same('Shape', 13, 15, 19, 21), // Shape-15: start/end (defaults = whole shape); types added
  ...same('Sigmoid', 13), // bfloat16
  ...same('Sign', 13), // bfloat16
  ...same('Size', 13, 19, 21), // types added
  ...convert('Slice', 10, sliceToInputs), // Slice-10: starts/ends/axes attributes become inputs; steps
  ...same('Slice', 11, 13), // Slice-11: negative axes; -13: bfloat16
  ...same('Softmax', 11), // Softmax-11: negative axis
  ...convert('Softmax', 13, coercedAxisToAxis), // Softmax-13: axis names one axis (was: coerce to 2-D), default -1 (was 1)
  ...same('SoftmaxCrossEntropyLoss', 13), // tags
  ...same('SpaceToDepth', 13), // bfloat16
  ...same('Split', 11), // Split-11: negative axis
  ...convert('Split', 13, splitToInput), // Split-13: `split` attribute becomes an input
  ...convert('Split', 18, splitNumOutputs), // Split-18: num_outputs, required without a split input
  ...same('Sqrt', 13), // bfloat16
  ...same('Squeeze', 11), // Squeeze-11: negative axes
  ...convert('Squeeze', 13, axesToInput), // Squeeze-13: `axes` attribute becomes an input
  ...same('Squeeze', 21), // types added
  ...same('Sub', 13, 14), // as Add
  ...same('Sum', 8, 13), // Sum-8: broadcasting; -13: bfloat16
  ...same('Tanh', 13), // bfloat16
  ...same('Tile', 13), // bfloat16
  ...convert('TopK', 10, topkToInput), // TopK-10: `k` attribute becomes the input K
  ...same('TopK', 11), // TopK-11: largest, sorted (defaults = before), negative axis
  ...same('Transpose', 13, 21), // types added
  ...same('Unsqueeze', 11), // Unsqueeze-11: negative axes
  ...convert('Unsqueeze', 13, axesToInput), // Unsqueeze-13: `axes` attribute becomes an input
  ...same('Unsqueeze', 21), // types added
  ...convert('Upsample', 9, upsampleScalesToInput), // Upsample-9: `scales` attribute becomes an input
  ...deprecated('Upsample', 11, upsampleToResize), // Upsample-10: deprecated, meaning Resize-10; converted where Resize-11 is reached
  ...same('Where', 16), // bfloat16
];

/** The next change of `op` for a node at version `at` raised to `target`, if any. */
export function nextChange(op: string, at: number, target: number): OpChange | undefined {
  let next: OpChange | undefined;
  for (const c of OPSET_CHANGES) {
    if (c.op !== op || c.since > target || (c.since <= at && c.deprecated !== true)) continue;
    if (next === undefined || c.since < next.since) next = c;
  }
  return next;
}
