/** TopK-10: the `k` attribute becomes the int64 input K of shape [1]. */
import type { Step } from './step.js';

export function topkToInput(s: Step): void {
  const k = s.node.intAttr('k');
  s.node.attributes.delete('k');
  if (k !== undefined) s.setInput(1, s.int64s('k', [k]));
}
