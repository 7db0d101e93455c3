/**
 * The matrix products a site's query or key value feeds on its way to the attention anchor.
 * Rotating Q and K (rotate-qk) or shifting K (center-k) is exact only where Q·Kᵀ is the one
 * product they meet in: DeBERTa's disentangled attention also multiplies K with position queries
 * (p2c) and Q with position keys (c2p), and those products would see the transform.
 *
 *   k ─ Reshape/Transpose/repeat… ─▶ MatMul(Q·Kᵀ) ─▶ … ─▶ anchor      one product: exact
 *   k ─┬──────────────────────────▶ MatMul(Q·Kᵀ) ─┐
 *      └──────────────────────────▶ MatMul(K·Pᵀ) ─┴ Add ─▶ anchor    two: not exact
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { Op } from '../onnx/ops.js';

/**
 * The MatMul/Gemm nodes that read the values of `v` (through reshapes, transposes, the
 * grouped-query repeat, any op that is not a product) and whose result flows into the anchor:
 * one, Q·Kᵀ, in an attention whose scores only q·k makes; none when the anchor is a fused op
 * that reads the value itself. Shape and Size read no values (T5 sizes its position bias from
 * the query's shape), and a product that does not reach the anchor is not this site's to keep.
 */
export function productsOf(v: Value, anchor: Node): Node[] {
  const found: Node[] = [];
  const seen = new Set<Node>();
  const queue = v.uses().map((u) => u.node);
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    const n = queue[i]!;
    if (seen.has(n) || n === anchor || n.is(Op.Shape) || n.is(Op.Size)) continue;
    seen.add(n);
    if (n.is(Op.MatMul) || n.is(Op.Gemm)) {
      if (reaches(n, anchor)) found.push(n);
      continue;
    }
    for (const out of n.outputs) for (const u of out.uses()) queue.push(u.node);
  }
  return found;
}

/** Some output of `node` flows into `anchor` (a bounded walk down the consumers). */
export function reaches(node: Node, anchor: Node): boolean {
  if (node === anchor) return true;
  const seen = new Set<Node>([node]);
  const queue = [node];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    for (const out of queue[i]!.outputs) {
      for (const c of out.consumers()) {
        if (c === anchor) return true;
        if (!seen.has(c)) {
          seen.add(c);
          queue.push(c);
        }
      }
    }
  }
  return false;
}

/** "2 products (a, b)": the nodes by name, or by op where they have none. */
export function describeProducts(products: readonly Node[]): string {
  return `${products.length} products (${products.map((n) => n.name || n.op.opType).join(', ')})`;
}
