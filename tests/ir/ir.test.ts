import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { Node } from '../../src/ir/node.js';
import { Value } from '../../src/ir/value.js';
import { sortGraph, topologicalOrder } from '../../src/ir/topo.js';
import { verifyModel } from '../../src/ir/verify.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { decodeModel } from '../../src/onnx/serde.js';
import { shuffled } from '../harness/fixtures.js';
import { buildGraph, graphSpec } from '../harness/random-graph.js';
import { bytesOf } from '../harness/rewrite.js';

function small() {
  const m = emptyModel();
  const b = new GraphBuilder(m);
  const x = b.input('x', DataType.FLOAT, [4]);
  const y = b.op(Op.Relu, [x], [], 'relu');
  const z = b.op(Op.Add, [y, x], [], 'add');
  b.output(z, 'z');
  return { m, b, x, y, z };
}

describe('use-def lists', () => {
  it('a value knows its producer and every use', () => {
    const { x, y, z } = small();
    expect(y.producer()?.op).toBe(Op.Relu);
    expect(x.uses().map((u) => [u.node.op.opType, u.index])).toEqual([
      ['Relu', 0],
      ['Add', 1],
    ]);
    expect(z.isGraphOutput()).toBe(true);
    expect(x.isGraphInput()).toBe(true);
  });

  it('replaceInput and replaceAllUsesWith keep both use lists exact', () => {
    const { m, b, x, y } = small();
    const w = b.op(Op.Neg, [x], [], 'neg');
    y.replaceAllUsesWith(w);
    expect(y.uses()).toEqual([]);
    expect(w.uses().map((u) => u.node.op.opType)).toEqual(['Add']);
    const add = w.uses()[0]!.node;
    add.replaceInput(1, w);
    expect(x.uses().map((u) => u.node.op.opType)).toEqual(['Relu', 'Neg']);
    expect(w.uses().map((u) => u.index)).toEqual([0, 1]);
    // Neg was appended after Add: sorting fixes the order.
    expect(sortGraph(m.graph)).toBe(true);
    verifyModel(m);
  });

  it('refuses to remove a node whose output is still used, and removes it once unused', () => {
    const { m, y, x } = small();
    const relu = y.producer()!;
    expect(() => m.graph.removeNode(relu)).toThrow(/still used/);
    y.replaceAllUsesWith(x);
    m.graph.removeNode(relu);
    expect(x.uses().map((u) => u.node.op.opType)).toEqual(['Add', 'Add']);
    verifyModel(m);
  });

  it('a value cannot get two producers', () => {
    const v = new Value('v');
    new Node(Op.Relu, [], [v]);
    expect(() => new Node(Op.Relu, [], [v])).toThrow(/already has a producer/);
  });

  it('fresh names are deterministic and never collide', () => {
    const { m } = small();
    expect(m.names.fresh('relu')).toBe('relu_1');
    expect(m.names.fresh('relu')).toBe('relu_2');
    expect(m.names.fresh('q_scale')).toBe('q_scale');
    const again = small().m;
    expect(again.names.fresh('relu')).toBe('relu_1');
  });
});

describe('verification', () => {
  it('reports a graph output nothing produces', () => {
    const { m } = small();
    m.graph.outputs.push(new Value('ghost'));
    expect(() => verifyModel(m)).toThrow(/graph output "ghost" is not produced/);
  });
  it('reports a dangling input', () => {
    const { m, b } = small();
    b.op(Op.Relu, [new Value('nowhere')]);
    expect(() => verifyModel(m)).toThrow(/refers to "nowhere", which nothing defines/);
  });
  it('reports two definitions of one name', () => {
    const { m, b, x } = small();
    const dup = b.op(Op.Neg, [x]);
    dup.name = 'z';
    expect(() => verifyModel(m)).toThrow(/"z" is defined twice/);
  });
  it('reports a cycle', () => {
    const { m, y, z } = small();
    y.producer()!.replaceInput(0, z);
    expect(() => verifyModel(m)).toThrow(/has a cycle/);
  });
  it('reports a node that reads its own output (fuzz seed 3, case 1321: matching then looped forever)', () => {
    const { m, y } = small();
    y.producer()!.replaceInput(0, y);
    expect(() => verifyModel(m)).toThrow(/has a cycle \(nodes on it or after it: Relu "relu"/);
    expect(topologicalOrder(m.graph).cycle.map((n) => n.name)).toEqual(['relu', 'add']);
  });
});

describe('properties of random graphs', () => {
  it('encode -> decode -> encode is the identity on bytes', () => {
    fc.assert(
      fc.property(graphSpec, (spec) => {
        const first = bytesOf(buildGraph(spec, { attributes: true }));
        const again = bytesOf(decodeModel(first, { file: 'random.onnx' }));
        expect(Buffer.compare(Buffer.from(first), Buffer.from(again))).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('topological sort of a shuffled graph is a valid order, and sorting a sorted graph changes nothing', () => {
    fc.assert(
      fc.property(graphSpec, fc.integer(), (spec, seed) => {
        const m = buildGraph(spec);
        const original = [...m.graph.nodes];
        expect(sortGraph(m.graph)).toBe(false);
        expect(m.graph.nodes).toEqual(original);
        m.graph.reorder(shuffled(original, seed));
        const { order, cycle } = topologicalOrder(m.graph);
        expect(cycle).toEqual([]);
        const position = new Map(order.map((n, i) => [n, i]));
        for (const n of order) {
          for (const v of n.inputs) {
            const p = v?.producer();
            if (p) expect(position.get(p)!).toBeLessThan(position.get(n)!);
          }
        }
        sortGraph(m.graph);
        verifyModel(m);
      }),
      { numRuns: 200 },
    );
  });
});
