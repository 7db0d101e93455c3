/**
 * Operator identities: the one table of op names. Passes and patterns write `Op.Softmax`, never
 * the string.
 */
import type { OpId } from '../ir/op-id.js';

export type { OpId };

const onnx = (opType: string): OpId => Object.freeze({ domain: '', opType });
const ms = (opType: string): OpId => Object.freeze({ domain: 'com.microsoft', opType });

export const Op = Object.freeze({
  Add: onnx('Add'),
  And: onnx('And'),
  Attention: onnx('Attention'),
  Cast: onnx('Cast'),
  CastLike: onnx('CastLike'),
  Concat: onnx('Concat'),
  Constant: onnx('Constant'),
  DequantizeLinear: onnx('DequantizeLinear'),
  Div: onnx('Div'),
  Expand: onnx('Expand'),
  Flatten: onnx('Flatten'),
  Gather: onnx('Gather'),
  Gemm: onnx('Gemm'),
  Identity: onnx('Identity'),
  If: onnx('If'),
  IsNaN: onnx('IsNaN'),
  Loop: onnx('Loop'),
  MatMul: onnx('MatMul'),
  Max: onnx('Max'),
  Min: onnx('Min'),
  Mul: onnx('Mul'),
  Neg: onnx('Neg'),
  QuantizeLinear: onnx('QuantizeLinear'),
  ReduceMax: onnx('ReduceMax'),
  ReduceMean: onnx('ReduceMean'),
  ReduceMin: onnx('ReduceMin'),
  ReduceSum: onnx('ReduceSum'),
  Relu: onnx('Relu'),
  Reshape: onnx('Reshape'),
  Resize: onnx('Resize'),
  Scan: onnx('Scan'),
  ScatterElements: onnx('ScatterElements'),
  Shape: onnx('Shape'),
  Sigmoid: onnx('Sigmoid'),
  Slice: onnx('Slice'),
  Softmax: onnx('Softmax'),
  Split: onnx('Split'),
  Sqrt: onnx('Sqrt'),
  Squeeze: onnx('Squeeze'),
  Sub: onnx('Sub'),
  Abs: onnx('Abs'),
  Tanh: onnx('Tanh'),
  Transpose: onnx('Transpose'),
  Unsqueeze: onnx('Unsqueeze'),
  Where: onnx('Where'),
  ArgMax: onnx('ArgMax'),
  ArgMin: onnx('ArgMin'),
  Ceil: onnx('Ceil'),
  ConstantOfShape: onnx('ConstantOfShape'),
  Dropout: onnx('Dropout'),
  Equal: onnx('Equal'),
  Floor: onnx('Floor'),
  GatherElements: onnx('GatherElements'),
  GatherND: onnx('GatherND'),
  Greater: onnx('Greater'),
  GreaterOrEqual: onnx('GreaterOrEqual'),
  Less: onnx('Less'),
  LessOrEqual: onnx('LessOrEqual'),
  Mean: onnx('Mean'),
  Mod: onnx('Mod'),
  Not: onnx('Not'),
  OneHot: onnx('OneHot'),
  Or: onnx('Or'),
  Pad: onnx('Pad'),
  Pow: onnx('Pow'),
  RandomNormal: onnx('RandomNormal'),
  RandomUniform: onnx('RandomUniform'),
  Range: onnx('Range'),
  ReduceProd: onnx('ReduceProd'),
  Sign: onnx('Sign'),
  Size: onnx('Size'),
  Sum: onnx('Sum'),
  Tile: onnx('Tile'),
  TopK: onnx('TopK'),
  Upsample: onnx('Upsample'),
  Xor: onnx('Xor'),
  MsAttention: ms('Attention'),
  MsMultiHeadAttention: ms('MultiHeadAttention'),
  MsGroupQueryAttention: ms('GroupQueryAttention'),
  FlexAttention: Object.freeze({ domain: 'ai.onnx.preview', opType: 'FlexAttention' }),
});

/** "ai.onnx" and "" name the same domain; the IR uses "". */
export function normalizeDomain(domain: string): string {
  return domain === 'ai.onnx' ? '' : domain;
}

export function opKey(op: OpId): string {
  return op.domain ? `${op.domain}::${op.opType}` : op.opType;
}
