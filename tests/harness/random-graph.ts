/**
 * fast-check arbitraries for random well-formed graphs: acyclic by construction (node i draws
 * its inputs from the graph inputs, initializers and outputs of nodes before it).
 */
import fc from 'fast-check';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { floatAttr, intAttr, intsAttr } from '../../src/ir/attribute.js';
import type { Model } from '../../src/ir/model.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import type { OpId } from '../../src/onnx/ops.js';

export interface GraphSpec {
  readonly inputs: number;
  readonly inits: readonly number[][];
  readonly nodes: readonly { op: number; picks: number[]; attr: number }[];
  readonly outputs: readonly number[];
}

const unaryOps: OpId[] = [Op.Relu, Op.Neg, Op.Identity, Op.Abs, Op.Sqrt];
const binaryOps: OpId[] = [Op.Add, Op.Mul, Op.Sub, Op.Max, Op.Min];

export const graphSpec: fc.Arbitrary<GraphSpec> = fc.record({
  inputs: fc.integer({ min: 1, max: 3 }),
  inits: fc.array(fc.array(fc.float({ noNaN: true, min: -4, max: 4 }), { minLength: 4, maxLength: 4 }), { maxLength: 3 }),
  nodes: fc.array(
    fc.record({ op: fc.nat(9), picks: fc.array(fc.nat(), { minLength: 2, maxLength: 2 }), attr: fc.nat(2) }),
    { minLength: 1, maxLength: 25 },
  ),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
});

/**
 * Build a model from a spec. Every value is float[4]. With `attributes`, nodes also carry
 * made-up attributes (for serialization tests; onnxruntime would reject them).
 */
export function buildGraph(spec: GraphSpec, opts: { attributes?: boolean } = {}): Model {
  const m = emptyModel({ '': 17 });
  const b = new GraphBuilder(m);
  const pool: Value[] = [];
  for (let i = 0; i < spec.inputs; i++) pool.push(b.input(`x${i}`, DataType.FLOAT, [4]));
  spec.inits.forEach((vals, i) => pool.push(b.constF32(`w${i}`, [4], vals)));
  for (const n of spec.nodes) {
    const a = pool[n.picks[0]! % pool.length]!;
    const c = pool[n.picks[1]! % pool.length]!;
    const op = n.op < 5 ? unaryOps[n.op]! : binaryOps[n.op - 5]!;
    const attrs = n.attr === 1 ? [floatAttr('ctc_test_alpha', 0.5)] : n.attr === 2 ? [intsAttr('ctc_test_ids', [1, 2]), intAttr('ctc_test_k', 3)] : [];
    pool.push(b.op(op, n.op < 5 ? [a] : [a, c], opts.attributes ? attrs : []));
  }
  const produced = pool.slice(spec.inputs + spec.inits.length);
  const outs = new Set<Value>();
  for (const o of spec.outputs) outs.add(produced[o % produced.length]!);
  for (const v of outs) b.output(v);
  return m;
}
