/**
 * GridSample-20: the modes are renamed (bilinear → linear, bicubic → cubic; nearest stays) as
 * the op generalises to N-D; the default (bilinear, now linear) is the same interpolation.
 */
import { stringAttr } from '../../src/ir/attribute.js';
import type { Step } from './step.js';

const RENAMED: Record<string, string> = { bilinear: 'linear', bicubic: 'cubic' };

export function gridSampleModeNames(s: Step): void {
  const mode = s.node.stringAttr('mode');
  const renamed = mode === undefined ? undefined : RENAMED[mode];
  if (renamed !== undefined) s.node.setAttribute(stringAttr('mode', renamed));
}
