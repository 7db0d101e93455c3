/**
 * Graph.replaceNode: a node of another op takes over the replaced node's place and output
 * values, and every use list stays exact.
 */
import { describe, expect, it } from 'vitest';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { verifyModel } from '../../src/ir/verify.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';

describe('Graph.replaceNode', () => {
  it('keeps the output values, their uses and graph outputs, and the node order', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [2, 3]);
    const old = b.node(Op.Softmax, [x], [intAttr('axis', 1)], { name: 'sm' });
    const y = old.output(0);
    const user = b.node(Op.Relu, [y]);
    b.output(y, 'y');
    old.docString = 'kept';
    const n = m.graph.replaceNode(old, Op.Sigmoid, old.inputs, []);
    verifyModel(m);
    expect([n.op.opType, n.name, n.output(0) === y, y.producer() === n, m.graph.nodes.indexOf(n), n.docString]).toEqual(['Sigmoid', 'sm', true, true, 0, 'kept']);
    expect(y.uses().map((u) => u.node)).toEqual([user]);
    expect(x.uses().map((u) => u.node)).toEqual([n]);
    expect([old.graph, old.outputs.length, m.graph.outputs[0] === y]).toEqual([undefined, 0, true]);
  });
});
