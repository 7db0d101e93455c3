/**
 * BatchNormalization-9: the `spatial` attribute is gone; spatial=1 (its default) is what 9
 * computes, spatial=0 (statistics per activation) has no counterpart and is refused.
 * BatchNormalization-14: the outputs mean, var, saved_mean, saved_var of training mode are gone
 * (14 has running_mean/running_var only with training_mode=1): a node declaring them is refused.
 */
import type { Step } from './step.js';

export function batchNormSpatial(s: Step): void {
  if (s.node.intAttr('spatial', 1) === 0) s.refuse('batchnorm-not-spatial', 'spatial=0 (per-activation statistics) was removed', 'Re-export the model at opset 9 or later');
  s.node.attributes.delete('spatial');
}

export function batchNormTrainingOutputs(s: Step): void {
  if (s.node.outputs.slice(1).some((o) => o.name !== '')) {
    s.refuse('batchnorm-training-outputs', 'it declares the training-mode outputs mean, var, saved_mean, saved_var', 'Export the model for inference (one output per BatchNormalization)');
  }
}
