/**
 * GroupNormalization-21: `scale` and `bias` are per channel [C] instead of per group [G]. Each
 * group's value is repeated C/G times: folded into new initializers when they are constants and
 * C is known statically, otherwise computed in the graph:
 *
 *   scale[G] ─ Unsqueeze(1) ─ Expand([G, C/G]) ─ Reshape([-1]) ─▶ scale[C]
 *                  C/G = Shape(X)[1:2] / G
 */
import { intAttr } from '../../src/ir/attribute.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { rawByteLength } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { constantTensor } from './constants.js';
import type { Step } from './step.js';

export function groupNormPerChannel(s: Step): void {
  const n = s.node;
  const x = n.input(0)!;
  const groups = n.intAttr('num_groups', 1);
  const c = s.dims(x)?.[1];
  let cOverG: Value | undefined;
  for (const [index, what] of [[1, 'scale'], [2, 'bias']] as const) {
    const v = n.input(index)!;
    const t = constantTensor(v);
    if (t !== undefined && typeof c === 'number' && c % groups === 0) {
      s.setInput(index, s.constant(what, repeatEach(t, c / groups)));
      continue;
    }
    cOverG ??= s.before(Op.Div, [s.before(Op.Shape, [x], [intAttr('start', 1), intAttr('end', 2)], 'channels'), s.int64s('groups', [groups])], [], 'per_group');
    const grid = s.before(Op.Concat, [s.int64s('groups', [groups]), cOverG], [intAttr('axis', 0)], `${what}_grid`);
    const column = s.before(Op.Unsqueeze, [v, s.int64s('axis', [1])], [], `${what}_column`);
    const repeated = s.before(Op.Expand, [column, grid], [], `${what}_repeated`);
    s.setInput(index, s.before(Op.Reshape, [repeated, s.int64s('flat', [-1])], [], `${what}_per_channel`));
  }
}

/** Each element repeated `times` times in place: [a, b] × 2 = [a, a, b, b]. */
function repeatEach(t: Tensor, times: number): Tensor {
  const w = rawByteLength(t.dataType, 1);
  const src = t.bytes();
  const out = new Uint8Array(src.length * times);
  for (let i = 0; i < t.size; i++) for (let j = 0; j < times; j++) out.set(src.subarray(i * w, (i + 1) * w), (i * times + j) * w);
  return new Tensor('', t.dataType, [t.size * times], { kind: 'raw', bytes: out });
}
