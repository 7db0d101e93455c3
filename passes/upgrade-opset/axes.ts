/**
 * Squeeze-13, Unsqueeze-13, ReduceSum-13 and the other Reduce* at 18: the `axes` attribute
 * becomes the optional int64 input 1.
 *
 *   Unsqueeze(x) {axes=[0,2]}   ─▶   Unsqueeze(x, axes=int64[2]{0,2})
 *
 * Without the attribute nothing changes: Squeeze drops every size-1 axis and Reduce* reduces
 * every axis, before and after (noop_with_empty_axes defaults to 0).
 */
import type { Step } from './step.js';

export function axesToInput(s: Step): void {
  const axes = s.node.intsAttr('axes');
  if (axes === undefined) return;
  s.node.attributes.delete('axes');
  s.setInput(1, s.int64s('axes', axes));
}
