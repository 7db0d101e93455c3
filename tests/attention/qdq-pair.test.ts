/**
 * src/attention/qdq-pair.ts on hand-built graphs: the pair ctc writes is recognized from the
 * value it produced (directly or through its guard Max(d, d)) and from the value it quantizes;
 * near misses (a Max that is no guard, a DequantizeLinear not fed by a QuantizeLinear, a
 * QuantizeLinear with no DequantizeLinear, either one reached on another input) are not pairs.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { Value } from '../../src/ir/value.js';
import { Op } from '../../src/onnx/ops.js';
import { guardedValue, pairProducing, pairsOn } from '../../src/attention/qdq-pair.js';

function graph() {
  const b = new GraphBuilder(emptyModel({ '': 21 }));
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const s = b.constF32('s', [], [0.5]);
  const zp = b.constF32('zp', [], [0]);
  const pair = (input: Value) => {
    const q = b.op(Op.QuantizeLinear, [input, s, zp], [], 'q');
    const d = b.op(Op.DequantizeLinear, [q, s, zp], [], 'dq');
    return { q: q.producer()!, d };
  };
  return { b, x, s, zp, pair };
}

describe('pairProducing', () => {
  it('finds the pair from its dequantized value and from its guard, with the QuantizeLinear and its input', () => {
    const { b, x, pair } = graph();
    const { q, d } = pair(x);
    const g = b.op(Op.Max, [d, d], [], 'guard');
    for (const v of [d, g]) {
      const p = pairProducing(v);
      expect(p?.quantize).toBe(q);
      expect(p?.input).toBe(x);
    }
  });
  it('is undefined for the input, a Max that is no guard, a DequantizeLinear of a graph input, a Relu', () => {
    const { b, x, pair } = graph();
    const { d } = pair(x);
    const other = b.input('other', DataType.FLOAT, [2, 3]);
    const int8 = b.input('codes', DataType.INT8, [2, 3]);
    expect(pairProducing(x)).toBeUndefined();
    expect(pairProducing(b.op(Op.Max, [d, other]))).toBeUndefined();
    expect(pairProducing(b.op(Op.Max, [other, d]))).toBeUndefined();
    expect(pairProducing(b.op(Op.Max, [other, other]))).toBeUndefined();
    expect(pairProducing(b.op(Op.DequantizeLinear, [int8, b.constF32('s2', [], [1])]))).toBeUndefined();
    expect(pairProducing(b.op(Op.Relu, [d]))).toBeUndefined();
  });
});

describe('guardedValue', () => {
  it("is the guard Max(d, d) where there is one, else d itself (a Max of d with something else, or of three inputs, is no guard)", () => {
    const { b, x, pair } = graph();
    const guarded = pair(x).d;
    const g = b.op(Op.Max, [guarded, guarded], [], 'guard');
    expect(guardedValue(guarded)).toBe(g);
    const bare = pair(b.op(Op.Relu, [x])).d;
    const other = b.input('other', DataType.FLOAT, [2, 3]);
    b.op(Op.Relu, [bare]);
    b.op(Op.Max, [bare, other]);
    b.op(Op.Max, [other, bare]);
    b.op(Op.Max, [bare, bare, bare]);
    expect(guardedValue(bare)).toBe(bare);
  });
});

describe('pairsOn', () => {
  it('lists each QuantizeLinear → DequantizeLinear reading the value', () => {
    const { x, pair } = graph();
    const a = pair(x);
    const b2 = pair(x);
    expect(pairsOn(x)).toEqual([
      { quantize: a.q, dequantize: a.d.producer() },
      { quantize: b2.q, dequantize: b2.d.producer() },
    ]);
  });
  it('is empty for a QuantizeLinear with no DequantizeLinear, or either reached on another input', () => {
    const { b, x, s, zp } = graph();
    const q = b.op(Op.QuantizeLinear, [x, s, zp]);
    b.op(Op.Relu, [q]);
    expect(pairsOn(x)).toEqual([]);
    // x as the scale of a QuantizeLinear, followed by a DequantizeLinear
    const y = b.input('y', DataType.FLOAT, [2, 3]);
    b.op(Op.DequantizeLinear, [b.op(Op.QuantizeLinear, [y, x, zp]), s, zp]);
    expect(pairsOn(x)).toEqual([]);
    // a QuantizeLinear whose output is a DequantizeLinear's scale, not its data
    const z = b.input('z', DataType.FLOAT, [2, 3]);
    b.op(Op.DequantizeLinear, [q, b.op(Op.QuantizeLinear, [z, s, zp])]);
    expect(pairsOn(z)).toEqual([]);
    expect(pairsOn(y).length).toBe(1);
  });
});
