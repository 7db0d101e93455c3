import { describe, expect, it } from 'vitest';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { any, constant, node, oneOf, optional, pass, same, skip } from '../../src/pattern/dsl.js';
import { matchPattern } from '../../src/pattern/match.js';
import { ShapeFacts } from '../../src/shapes/static-shapes.js';
import { bytesOf } from '../harness/rewrite.js';

function graph() {
  const m = emptyModel();
  const b = new GraphBuilder(m);
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const c = b.constF32('c', [], [0.5]);
  const scaled = b.op(Op.Mul, [c, x], [], 'scale'); // constant first: needs commutation
  const id = b.op(Op.Identity, [scaled], [], 'id');
  const cast = b.op(Op.Cast, [id], [intAttr('to', DataType.FLOAT)], 'cast');
  const sm = b.op(Op.Softmax, [cast], [intAttr('axis', -1)], 'softmax');
  const sq = b.op(Op.Mul, [sm, sm], [], 'square');
  b.output(sq, 'y');
  return { m, x, c, scaled, id, cast, sm, sq };
}

describe('the pattern DSL', () => {
  it('binds captures, records the tag of each alternative, commutes when asked (skip tries the fewest skips first)', () => {
    const g = graph();
    const p = node(Op.Softmax, [skip([Op.Cast, Op.Identity], oneOf('scale', { mul: node(Op.Mul, [any('x'), constant('c')], { commute: true }), neg: node(Op.Neg, [any('x')]) }))], { capture: 'sm' });
    const r = matchPattern(p, g.sm, new ShapeFacts());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.bindings.values.get('x')).toBe(g.x);
    expect(r.bindings.values.get('c')).toBe(g.c);
    expect(r.bindings.nodes.get('sm')).toBe(g.sm.producer());
    expect(Object.fromEntries(r.bindings.tags)).toEqual({ scale: 'mul' });
    expect([...r.bindings.matched].map((n) => n.name).sort()).toEqual(['cast', 'id', 'scale', 'softmax']);
  });

  it('without commute, the operand order must match; the failure says why and where', () => {
    const g = graph();
    const r = matchPattern(node(Op.Mul, [any('x'), constant()]), g.scaled, new ShapeFacts());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe('x is not a constant');
    expect(r.at).toBe(g.x);
  });

  it('pass() sees through Identity; same() requires the same value twice', () => {
    const g = graph();
    expect(matchPattern(pass(node(Op.Mul, [constant(), any()])), g.id, new ShapeFacts()).ok).toBe(true);
    expect(matchPattern(node(Op.Mul, [any('p'), same('p')]), g.sq, new ShapeFacts()).ok).toBe(true);
    const r = matchPattern(node(Op.Mul, [any('p'), same('p')]), g.scaled, new ShapeFacts());
    expect(r.ok ? '' : r.reason).toMatch(/expected the same value as p/);
  });

  it('optional() is a tagged choice of present / absent', () => {
    const g = graph();
    const p = optional('cast', (inner) => node(Op.Cast, [inner]), any('v'));
    const r = matchPattern(p, g.cast, new ShapeFacts());
    expect(r.ok && Object.fromEntries(r.bindings.tags)).toEqual({ cast: 'present' });
    const r2 = matchPattern(p, g.id, new ShapeFacts());
    expect(r2.ok && Object.fromEntries(r2.bindings.tags)).toEqual({ cast: 'absent' });
  });

  it('a node check failing gives its reason at the node; the op mismatch names both ops', () => {
    const g = graph();
    const lastAxisIs2 = node(Op.Softmax, [any()], { check: (n) => (n.intAttr('axis') === 2 ? undefined : `axis ${n.intAttr('axis')}`) });
    const r = matchPattern(lastAxisIs2, g.sm, new ShapeFacts());
    expect(r.ok ? '' : r.reason).toBe('axis -1');
    expect(r.ok ? undefined : r.at).toBe(g.sm.producer());
    const r2 = matchPattern(node(Op.MatMul, [any(), any()]), g.sm, new ShapeFacts());
    expect(r2.ok ? '' : r2.reason).toMatch(/comes from Softmax, expected MatMul/);
  });

  it('matching never changes the graph', () => {
    const g = graph();
    const before = bytesOf(g.m);
    for (const p of [node(Op.Softmax, [any()]), node(Op.MatMul, [any(), any()]), pass(any('z')), node(Op.Mul, [any('p'), same('p')])]) {
      for (const v of [g.x, g.scaled, g.id, g.cast, g.sm, g.sq]) matchPattern(p, v, new ShapeFacts());
    }
    expect(Buffer.compare(Buffer.from(bytesOf(g.m)), Buffer.from(before))).toBe(0);
  });
});
