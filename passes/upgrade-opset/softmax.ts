/**
 * Softmax-13, LogSoftmax-13, Hardmax-13: `axis` (default 1 before, -1 after) no longer coerces
 * the input to 2-D [a_0⋯a_{axis-1}, a_axis⋯a_{n-1}]; it names the one axis normalized.
 *
 * On the last axis (axis=-1, or rank-1 where the rank is declared or derived) both mean the
 * same: the node keeps its place with axis=-1. Elsewhere the coercion is written out, so the
 * result is exact for any rank:
 *
 *   x ─ Softmax{axis=k} ─▶ y      becomes      x ─ Flatten{axis=k} ─ Softmax{axis=-1} ─ Reshape ─▶ y
 *                                               └──────── Shape ───────────────────────────┘
 */
import { intAttr } from '../../src/ir/attribute.js';
import { Node } from '../../src/ir/node.js';
import { Value } from '../../src/ir/value.js';
import { Op } from '../../src/onnx/ops.js';
import type { Step } from './step.js';

export function coercedAxisToAxis(s: Step): Node | undefined {
  const n = s.node;
  const x = n.input(0)!;
  const axis = n.intAttr('axis', 1);
  const rank = s.dims(x)?.length;
  if (axis === -1 || (rank !== undefined && axis === rank - 1)) {
    n.setAttribute(intAttr('axis', -1));
    return undefined;
  }
  const shape = s.before(Op.Shape, [x], [], 'shape');
  const flat = s.before(Op.Flatten, [x], [intAttr('axis', axis)], 'flatten');
  const base = n.name || n.op.opType;
  const normalized = new Value(s.model.names.fresh(`${base}_2d_output`));
  s.graph.insertBefore(n, [new Node(n.op, [flat], [normalized], [intAttr('axis', -1)], s.model.names.fresh(`${base}/2d`))]);
  return s.graph.replaceNode(n, Op.Reshape, [normalized, shape], []);
}
