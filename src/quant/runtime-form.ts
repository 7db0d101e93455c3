/**
 * The form of a QDQ pair that onnxruntime keeps valid, and numerically the same, at every graph
 * optimization level.
 *
 * onnxruntime 1.30's QDQ transformers (levels `extended` and `all`) assume 8-bit integers.
 * On float8 they build graphs that fail to load:
 *
 *   - QDQPropagation moves a DequantizeLinear with one scalar scale forward past Transpose,
 *     Reshape, Squeeze, Unsqueeze, Slice (and a QuantizeLinear backward past them), then
 *     DropQDQ runs that op on the float8 tensor: "Type 'tensor(float8e4m3fn)' … of operator
 *     (Unsqueeze) … is invalid" (and at opset 21, where the schema accepts float8, the CPU
 *     provider has no float8 kernel for it);
 *   - a MatMul whose two inputs both come from DequantizeLinear becomes MatMulIntegerToFloat,
 *     which takes only int8/uint8. The level-1 transpose optimizer creates that shape itself
 *     when it re-quantizes around a Transpose (Q·Kᵀ with K's QDQ before the transpose).
 *
 *
 * On int8 they load but change the result: MatMulIntegerToFloat differs from the float MatMul
 * by up to one quantization step of the cache (GPT-2, per tensor: 0.05 on present.3.key), and
 * in an opset-23 model the propagated QuantizeLinear fails type inference ("output_dtype INT8
 * does not match y_zero_point type UINT8").
 *
 * So every pair is written as
 *
 *   x ─ QuantizeLinear ─ DequantizeLinear ─▶ (graph output, if x was one)
 *                                   └─ Max(d, d) ─▶ every other consumer of x
 *
 * with a scale that is never a single element (a per-tensor scale, or per-head with one head,
 * is repeated along the last axis, per-axis QDQ with identical values): propagation only
 * moves pairs with scalar scales, and `Max(d, d)` is an exact identity (it returns its input,
 * NaN and signed zeros included) that no onnxruntime optimizer removes or looks through, so
 * no DequantizeLinear feeds a shape op or a MatMul. onnxruntime then computes the attention in
 * float around the pairs at every level, exactly as at `disabled`; the quantization is the
 * pairs' rounding, as compressed-tensors defines it. Another runtime may drop the Max (it is the
 * identity); tests/runtime/ prove the form for onnxruntime.
 */
import type { Edge } from '../attention/site.js';
import { perAxisValues } from './edges.js';

/** Where a pair's scale and zero point lie on the tensor: always per axis, never one element. */
export interface ScaleLayout {
  readonly scales: number[];
  readonly zeroPoints: number[];
  readonly axis: number;
  /** Initializer name suffix: the compressed-tensors name for a per-head scale on a head axis. */
  readonly suffix: '' | '_packed' | '_repeated';
}

/**
 * Per head: one value per head on the head axis (packed [B,S,H·D]: each head's value D times).
 * Per tensor, or one head: the value repeated along the last axis (D, or H·D when packed).
 */
export function scaleLayout(scale: ArrayLike<number>, zeroPoint: ArrayLike<number>, perHead: boolean, t: Edge, heads: number, headDim: number): ScaleLayout {
  if (perHead && scale.length > 1) {
    return { scales: perAxisValues(scale, t, headDim), zeroPoints: perAxisValues(zeroPoint, t, headDim), axis: t.headAxis, suffix: t.layout === 'BSE' ? '_packed' : '' };
  }
  const last = t.layout === 'BSE' ? heads * headDim : headDim;
  return { scales: new Array<number>(last).fill(scale[0]!), zeroPoints: new Array<number>(last).fill(zeroPoint[0]!), axis: t.rank - 1, suffix: '_repeated' };
}
