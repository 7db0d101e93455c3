/**
 * A QuantizeLinear → DequantizeLinear pair as ctc writes it (passes/insert-qdq.ts), seen from
 * either end: the value it produced (the dequantized value, or its guard Max(d, d) that other
 * consumers read) or the value it quantizes.
 *
 *   x ─▶ QuantizeLinear ─▶ DequantizeLinear ─▶ d ─▶ Max(d, d) ─▶ consumers
 *                                               └─▶ (a graph output keeps its name on d)
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { Op } from '../onnx/ops.js';

/** Whether `n` is a pair's guard: Max(d, d), one value on both inputs. */
export function isGuard(n: Node): boolean {
  return n.is(Op.Max) && n.inputs.length === 2 && n.inputs[0] === n.inputs[1];
}

/** The pair that produced `v` (v is its DequantizeLinear's output or that output's guard): its QuantizeLinear and input. */
export function pairProducing(v: Value): { readonly quantize: Node; readonly input: Value } | undefined {
  const g = v.producer();
  const dq = g !== undefined && isGuard(g) ? g.inputs[0]!.producer() : g;
  const q = dq?.is(Op.DequantizeLinear) ? dq.inputs[0]?.producer() : undefined;
  return q?.is(Op.QuantizeLinear) && q.inputs[0] !== undefined ? { quantize: q, input: q.inputs[0] } : undefined;
}

/** What consumers of a pair read: its guard Max(d, d) where there is one, else the dequantized value `d` itself. */
export function guardedValue(d: Value): Value {
  return d.uses().find((u) => isGuard(u.node))?.node.output(0) ?? d;
}

/** The pairs that quantize `x`: each QuantizeLinear reading it with a DequantizeLinear after it, and that DequantizeLinear. */
export function pairsOn(x: Value): { readonly quantize: Node; readonly dequantize: Node }[] {
  return x.uses().flatMap((u) => {
    if (!u.node.is(Op.QuantizeLinear) || u.index !== 0) return [];
    const dq = u.node.output(0).uses().find((w) => w.node.is(Op.DequantizeLinear) && w.index === 0)?.node;
    return dq === undefined ? [] : [{ quantize: u.node, dequantize: dq }];
  });
}
