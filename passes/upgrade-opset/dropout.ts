/**
 * Dropout-10: the mask output changes type from T to bool; a model that reads the mask is
 * refused (its consumers expect T).
 * Dropout-12: the `ratio` attribute becomes the optional input 1 (a float scalar; T1 is its
 * own type variable). Inference (training_mode absent) is the identity either way.
 */
import type { Step } from './step.js';

export function dropoutMaskBool(s: Step): void {
  if (s.outputRead(1)) s.refuse('dropout-mask-type', 'its mask output changes type from the data type to bool and the model reads it', 'Re-export the model at opset 10 or later, or drop the use of the mask');
}

export function dropoutRatioToInput(s: Step): void {
  const ratio = s.node.floatAttr('ratio');
  s.node.attributes.delete('ratio');
  if (ratio !== undefined) s.setInput(1, s.float32s('ratio', [ratio], []));
}
