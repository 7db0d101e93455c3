/**
 * Clip-11: the float attributes `min` and `max` become inputs 1 and 2, scalars of the data's
 * type. Their defaults were the float limits (std::numeric_limits<float>::lowest() and max(),
 * onnx/defs/math/old.cc), which clamp ±inf; an absent bound clamps nothing from 11 on, so the
 * old default is written out.
 */
import type { Step } from './step.js';

const FLT_MAX = 3.4028234663852886e38;

export function clipToInputs(s: Step): void {
  const n = s.node;
  const min = n.floatAttr('min') ?? -FLT_MAX;
  const max = n.floatAttr('max') ?? FLT_MAX;
  n.attributes.delete('min');
  n.attributes.delete('max');
  const x = n.input(0)!;
  s.setInput(1, s.scalarLike('min', min, x));
  s.setInput(2, s.scalarLike('max', max, x));
}
