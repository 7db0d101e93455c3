/**
 * Slice-10: `starts`, `ends` and `axes` move from attributes to int64 inputs 1, 2, 3 (steps,
 * input 4, are new and default to 1). Clamping of out-of-range starts and ends is unchanged.
 */
import type { Step } from './step.js';

export function sliceToInputs(s: Step): void {
  const n = s.node;
  const starts = n.intsAttr('starts') ?? [];
  const ends = n.intsAttr('ends') ?? [];
  const axes = n.intsAttr('axes');
  for (const a of ['starts', 'ends', 'axes']) n.attributes.delete(a);
  s.setInput(1, s.int64s('starts', starts));
  s.setInput(2, s.int64s('ends', ends));
  if (axes !== undefined) s.setInput(3, s.int64s('axes', axes));
}
