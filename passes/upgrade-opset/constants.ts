/**
 * The value of a constant input (an initializer or a Constant node's `value`), for converters
 * that need to know it to choose an exact rewrite.
 */
import type { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { Op } from '../../src/onnx/ops.js';

export function constantTensor(v: Value | undefined): Tensor | undefined {
  if (v === undefined) return undefined;
  if (v.initializer !== undefined) return v.isGraphInput() ? undefined : v.initializer;
  const p = v.producer();
  const a = p?.is(Op.Constant) ? p.attr('value') : undefined;
  return a?.kind === 'tensor' ? a.value : undefined;
}
