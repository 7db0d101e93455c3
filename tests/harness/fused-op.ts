/**
 * One fused attention op with graph inputs for its operands, for the pattern testers:
 *
 *   q, k, v (and past_key, past_value when asked) ─ OP(attributes) ─▶ y (and present_key, present_value)
 */
import type { Attribute } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import type { Dim } from '../../src/ir/types.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { OpId } from '../../src/onnx/ops.js';
import type { AttentionPattern } from '../../src/attention/patterns/index.js';
import type { Trial } from './pattern-tester.js';

export interface FusedOp {
  readonly op: OpId;
  readonly opsets: Record<string, number>;
  /** Shape per input position; undefined leaves the position empty (""). */
  readonly inputs: readonly (readonly Dim[] | undefined)[];
  readonly attributes?: readonly Attribute[];
  /** Outputs: y, then present_key and present_value when 3. */
  readonly outputs?: number;
}

export function fusedOp(f: FusedOp): { model: Model; node: Node } {
  const model = emptyModel(f.opsets);
  const b = new GraphBuilder(model);
  const names = ['q', 'k', 'v', 'in3', 'in4', 'in5', 'past_key', 'past_value'];
  const inputs = f.inputs.map((shape, i) => (shape === undefined ? undefined : b.input(names[i]!, DataType.FLOAT, shape)));
  const node = b.node(f.op, inputs, f.attributes ?? [], { outputs: f.outputs ?? 1 });
  node.outputs.forEach((o, i) => b.output(o, ['y', 'present_key', 'present_value'][i]));
  return { model, node };
}

export function fusedTrial(pattern: AttentionPattern, f: FusedOp): Trial {
  const { model, node } = fusedOp(f);
  return {
    model,
    attempt: (facts) => {
      const r = pattern.match(node, facts);
      return r.ok ? { ok: true, tags: r.site.variant } : r;
    },
  };
}
