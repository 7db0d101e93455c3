/**
 * DFT-20: the `axis` attribute (default 1) becomes the optional int64 scalar input 2, whose
 * default is -2: the old default is written out.
 */
import type { Step } from './step.js';

export function dftAxisToInput(s: Step): void {
  const axis = s.node.intAttr('axis', 1);
  s.node.attributes.delete('axis');
  s.setInput(2, s.int64s('axis', [axis], []));
}
