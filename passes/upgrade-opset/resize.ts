/**
 * Upsample and Resize up to 13. Upsample-10 is Resize-10 under its old name (deprecated), and
 * Resize-11 spells out what 10 left implicit:
 *
 *   Upsample-7 {scales=[…]} ─9─▶ Upsample-9(X, scales) ─11─▶ Resize-11(X, roi, scales)
 *   Resize-10(X, scales)                               ─11─▶   {coordinate_transformation_mode=asymmetric,
 *                                                               nearest_mode=floor (nearest only)}
 *
 * Before 11 the output coordinate maps back as x_original = x_resized / scale (asymmetric); for
 * nearest, the input pixel is floor(x_original) when upsampling, which Upsample always does
 * (its scales are ≥ 1). A Resize-10 nearest whose scales are not constants ≥ 1 may downsample,
 * where 10 specifies no rounding: refused. Resize-13 dropped tf_half_pixel_for_nn: refused.
 */
import { stringAttr } from '../../src/ir/attribute.js';
import type { Node } from '../../src/ir/node.js';
import { Op } from '../../src/onnx/ops.js';
import { constantTensor } from './constants.js';
import type { Step } from './step.js';

const MODES_BEFORE_11 = new Set(['nearest', 'linear']);

/** Upsample-9: the `scales` attribute becomes the float input 1. */
export function upsampleScalesToInput(s: Step): void {
  const scales = s.node.attr('scales');
  s.node.attributes.delete('scales');
  if (scales?.kind === 'floats') s.setInput(1, s.float32s('scales', scales.value));
}

/** Upsample (deprecated since 10), crossing 11: the Resize-11 node with its meaning. */
export function upsampleToResize(s: Step): Node {
  explicitModes(s, true);
  return s.graph.replaceNode(s.node, Op.Resize, s.node.inputs, [...s.node.attributes.values()]);
}

/** Resize-11: roi is a new input before scales, and the coordinate mapping becomes explicit. */
export function resizeExplicitModes(s: Step): void {
  explicitModes(s, false);
}

function explicitModes(s: Step, upsampling: boolean): void {
  const n = s.node;
  const mode = n.stringAttr('mode') ?? 'nearest';
  if (!MODES_BEFORE_11.has(mode)) s.refuse('resize-mode-removed', `mode "${mode}" is neither nearest nor linear`, 'Re-export the model at opset 11 or later');
  const scalesValue = n.input(1);
  if (mode === 'nearest' && !upsampling) {
    const scales = constantTensor(scalesValue)?.toFloat32();
    if (scales === undefined || scales.some((x) => x < 1)) {
      s.refuse('resize-nearest-rounding', 'nearest resizing before 11 specifies its rounding only for constant upsampling scales (≥ 1)', 'Re-export the model at opset 11 or later');
    }
  }
  if (mode === 'nearest') n.setAttribute(stringAttr('nearest_mode', 'floor'));
  n.setAttribute(stringAttr('coordinate_transformation_mode', 'asymmetric'));
  // roi is a required input at 11 and 12, optional from 13; it only matters for tf_crop_and_resize.
  s.setInput(1, s.target >= 13 ? undefined : s.float32s('roi', [], [0]));
  s.setInput(2, scalesValue);
}

/** Resize-13 removed the coordinate mode tf_half_pixel_for_nn. */
export function resizeNoTfHalfPixelForNn(s: Step): void {
  if (s.node.stringAttr('coordinate_transformation_mode') === 'tf_half_pixel_for_nn') {
    s.refuse('resize-mode-removed', 'coordinate_transformation_mode "tf_half_pixel_for_nn" was removed', 'Re-export the model at opset 13 or later');
  }
}
