/**
 * Pad-11: `pads` becomes the int64 input 1 and the float `value` becomes the optional input 2,
 * a scalar of the data's type (omitted when 0, its default). `mode` is unchanged.
 */
import type { Step } from './step.js';

export function padToInputs(s: Step): void {
  const n = s.node;
  const pads = n.intsAttr('pads') ?? [];
  const value = n.floatAttr('value') ?? 0;
  const mode = n.stringAttr('mode') ?? 'constant';
  n.attributes.delete('pads');
  n.attributes.delete('value');
  s.setInput(1, s.int64s('pads', pads));
  if (mode === 'constant' && value !== 0) s.setInput(2, s.scalarLike('value', value, n.input(0)!));
}
