/**
 * Changes that need no rewrite except in a case the new version cannot express: each either
 * passes or refuses.
 */
import type { Step } from './step.js';

/** ConvTranspose-11 re-specified which side takes the odd padding for SAME_UPPER/SAME_LOWER. */
export function convTransposeSamePadding(s: Step): void {
  const autoPad = s.node.stringAttr('auto_pad');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    s.refuse('conv-transpose-same-padding', `auto_pad=${autoPad} splits the padding differently from 11 on`, 'Re-export the model with explicit pads');
  }
}

/** Erf-13 dropped the integer types. */
export function erfFloatOnly(s: Step): void {
  const type = s.elemType(s.node.input(0)!);
  if (s.isIntegerType(type)) s.refuse('erf-integer-input', 'Erf of an integer tensor is no longer defined', 'Cast the input to float first');
}

/** QuantizeLinear-19: x and y_scale share the type T1, so int32 x with a float scale is invalid. */
export function quantizeSharedScaleType(s: Step): void {
  const x = s.node.input(0)!;
  const scale = s.node.input(1);
  if (scale !== undefined && s.isIntegerType(s.elemType(x)) && s.elemType(scale) !== s.elemType(x)) {
    s.refuse('quantize-int32-input', 'x is int32 with a float scale, and from 19 x and y_scale must share one type', 'Cast x to float before quantizing');
  }
}

/** Scan-9 dropped the batch axis and sequence_lens of Scan-8: the body sees different shapes. */
export function scanWithoutBatchAxis(s: Step): void {
  s.refuse('scan-8-batch-axis', 'Scan-8 scans a batch axis and takes sequence_lens, which Scan-9 does not have', 'Re-export the model at opset 9 or later');
}
