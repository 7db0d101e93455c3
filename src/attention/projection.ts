/**
 * The activation a Q or K tensor was projected from: walking back through head reshapes,
 * rotary embedding, bias, norms and fused-QKV splits (GPT-2 and Phi-3 project Q, K and V with
 * one MatMul/Gemm then Split or Slice) to a MatMul/Gemm whose other operand is a weight.
 * Q and K from the same activation make self-attention; from different ones, cross-attention.
 */
import type { Value } from '../ir/value.js';
import { Op } from '../onnx/ops.js';
import type { ShapeFacts } from '../shapes/static-shapes.js';

const THROUGH = new Set(['Transpose', 'Reshape', 'Split', 'Slice', 'Add', 'Mul', 'Sub', 'Neg', 'Concat', 'Identity', 'Cast', 'RotaryEmbedding', 'SimplifiedLayerNormalization', 'RMSNormalization', 'LayerNormalization', 'Squeeze', 'Unsqueeze']);

export function projectionSource(start: Value, facts: ShapeFacts, maxDepth = 12): Value | undefined {
  const seen = new Set<Value>();
  const visit = (v: Value | undefined, depth: number): Value | undefined => {
    if (v === undefined || depth > maxDepth || seen.has(v)) return undefined;
    seen.add(v);
    const p = v.producer();
    if (p === undefined) return undefined;
    // A MatMul/Gemm in a damaged file may lack its weight input: then it projects nothing.
    const weight = p.inputs[1];
    if ((p.is(Op.MatMul) || p.is(Op.Gemm)) && weight !== undefined && facts.constTensor(weight) !== undefined) return p.inputs[0];
    if (!THROUGH.has(p.op.opType) || p.op.domain !== '') return undefined;
    for (const input of p.inputs) {
      if (input === undefined || facts.constTensor(input) !== undefined) continue;
      const r = visit(input, depth + 1);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return visit(start, 0);
}
