/**
 * Split-13: the `split` attribute becomes the optional int64 input 1.
 * Split-18: without a `split` input, `num_outputs` must be given. Before 18 such a Split cut the
 * axis into as many equal parts as it has outputs (the length had to divide evenly), which is
 * what num_outputs = the output count means when it divides evenly.
 */
import { intAttr } from '../../src/ir/attribute.js';
import type { Step } from './step.js';

export function splitToInput(s: Step): void {
  const split = s.node.intsAttr('split');
  if (split === undefined) return;
  s.node.attributes.delete('split');
  s.setInput(1, s.int64s('split', split));
}

export function splitNumOutputs(s: Step): void {
  if (s.node.input(1) === undefined && !s.node.attributes.has('num_outputs')) s.node.setAttribute(intAttr('num_outputs', s.node.outputs.length));
}
