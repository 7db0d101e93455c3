/**
 * Attention computed in plain TypeScript, for end-to-end checks of rewritten graphs against
 * onnxruntime: float8 QDQ per head on any axis (through tests/harness/qdq-reference.ts) and
 * softmax(scale · q kᵀ + bias) v per head, on row-major [B·H, S, D] data (B = 1 or heads
 * folded into the batch, which is the same memory order as [B, H, S, D]).
 */
import { DataType } from '../../src/ir/dtypes.js';
import { dequantizeLinear, quantizeLinear } from './qdq-reference.js';

/** DQ(Q(x)) in float8e4m3fn with one scale per index of `axis`. */
export function fp8PerAxis(x: Float32Array, dims: readonly number[], scales: readonly number[], axis: number): Float32Array {
  const s = Float32Array.from(scales);
  const raw = quantizeLinear(x, dims, s, [s.length], undefined, DataType.FLOAT8E4M3FN, axis, 0, 'skip');
  return dequantizeLinear(raw, DataType.FLOAT8E4M3FN, dims, s, [s.length], undefined, axis, 0);
}

/**
 * y[g] = softmax(scale · q[g] k[g]ᵀ + bias(g, i, t)) v[g] for each of `groups` (batch × heads):
 * q [groups, S, D], k and v [groups, T, D]; kvGroup maps a query group to its key/value group
 * (grouped-query attention).
 */
export function attentionReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  o: { groups: number; S: number; T: number; D: number; scale: number; bias?: (g: number, i: number, t: number) => number; kvGroup?: (g: number) => number },
): number[] {
  const { groups, S, T, D, scale } = o;
  const y: number[] = [];
  for (let g = 0; g < groups; g++) {
    const kg = o.kvGroup ? o.kvGroup(g) : g;
    for (let i = 0; i < S; i++) {
      const s = Array.from({ length: T }, (_, t) => {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(g * S + i) * D + d]! * k[(kg * T + t) * D + d]!;
        return scale * dot + (o.bias ? o.bias(g, i, t) : 0);
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) y.push(e.reduce((acc, p, t) => acc + (p / z) * v[(kg * T + t) * D + d]!, 0));
    }
  }
  return y;
}
