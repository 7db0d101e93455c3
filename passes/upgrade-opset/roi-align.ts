/**
 * RoiAlign-16: coordinate_transformation_mode is new and defaults to half_pixel (a -0.5 shift);
 * the behaviour before 16 is output_half_pixel, written out.
 */
import { stringAttr } from '../../src/ir/attribute.js';
import type { Step } from './step.js';

export function roiAlignCoordinateMode(s: Step): void {
  if (!s.node.attributes.has('coordinate_transformation_mode')) s.node.setAttribute(stringAttr('coordinate_transformation_mode', 'output_half_pixel'));
}
