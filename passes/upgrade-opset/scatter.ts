/**
 * Scatter is deprecated at 11 in favour of ScatterElements, which has the same inputs, the same
 * `axis` attribute and the same meaning (Changelog: ScatterElements-11).
 */
import { Op } from '../../src/onnx/ops.js';
import type { Node } from '../../src/ir/node.js';
import type { Step } from './step.js';

export function scatterToScatterElements(s: Step): Node {
  return s.graph.replaceNode(s.node, Op.ScatterElements, s.node.inputs, [...s.node.attributes.values()]);
}
