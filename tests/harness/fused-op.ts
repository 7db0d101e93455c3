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
import { intAttr } from '../../src/ir/attribute.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Op } from '../../src/onnx/ops.js';
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

/** x [1, S, E] -> projections -> a com.microsoft fused op with a cache. */
export function contribAttentionModel(op: 'mha' | 'gqa'): { model: Model; inputs: Map<string, Tensor> } {
  const H = 4;
  const Hkv = op === 'gqa' ? 2 : 4;
  const D = 8;
  const S = 3;
  const P = 2;
  const m = emptyModel({ '': 17, 'com.microsoft': 1 });
  const b = new GraphBuilder(m);
  const x = b.input('x', DataType.FLOAT, [1, S, H * D]);
  const w = (name: string, cols: number): ReturnType<GraphBuilder['constF32']> =>
    b.constF32(name, [H * D, cols], Array.from({ length: H * D * cols }, (_, i) => Math.sin(i * 0.7 + name.length) * 0.2));
  const q = b.op(Op.MatMul, [x, w('wq', H * D)]);
  const k = b.op(Op.MatMul, [x, w('wkk', Hkv * D)]);
  const v = b.op(Op.MatMul, [x, w('wvvv', Hkv * D)]);
  const pastK = b.input('past_key', DataType.FLOAT, [1, Hkv, P, D]);
  const pastV = b.input('past_value', DataType.FLOAT, [1, Hkv, P, D]);
  const inputs = new Map<string, Tensor>([
    ['x', Tensor.fromFloat32('x', DataType.FLOAT, [1, S, H * D], Array.from({ length: S * H * D }, (_, i) => Math.cos(i * 0.3)))],
    ['past_key', Tensor.fromFloat32('past_key', DataType.FLOAT, [1, Hkv, P, D], Array.from({ length: Hkv * P * D }, (_, i) => Math.sin(i * 0.5)))],
    ['past_value', Tensor.fromFloat32('past_value', DataType.FLOAT, [1, Hkv, P, D], Array.from({ length: Hkv * P * D }, (_, i) => Math.cos(i * 0.9)))],
  ]);
  let node;
  if (op === 'mha') {
    node = b.node(Op.MsMultiHeadAttention, [q, k, v, undefined, undefined, undefined, pastK, pastV], [intAttr('num_heads', H)], { outputs: 3, name: 'mha' });
  } else {
    const seqlens = b.initializer('seqlens_k', new Tensor('seqlens_k', DataType.INT32, [1], { kind: 'raw', bytes: new Uint8Array(Int32Array.of(P + S - 1).buffer) }));
    const total = b.initializer('total_len', new Tensor('total_len', DataType.INT32, [], { kind: 'raw', bytes: new Uint8Array(Int32Array.of(P + S).buffer) }));
    node = b.node(Op.MsGroupQueryAttention, [q, k, v, pastK, pastV, seqlens, total], [intAttr('num_heads', H), intAttr('kv_num_heads', Hkv)], { outputs: 3, name: 'gqa' });
  }
  b.output(node.output(0), 'y');
  b.output(node.output(1), 'present_key');
  b.output(node.output(2), 'present_value');
  return { model: m, inputs };
}
