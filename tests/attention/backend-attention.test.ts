/**
 * The ONNX backend tests of the Attention operator: each model (the op, and its function body
 * expanded into MatMul/Softmax) is exactly one site, with the heads its attributes and input
 * shapes state.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { shapeOf } from '../../src/ir/types.js';
import { NODE_TESTS } from '../harness/paths.js';

const attentionTests = readdirSync(NODE_TESTS).filter((d) => d.startsWith('test_attention_'));

/** Heads as the op's attributes and declared input shapes state them. */
function declaredHeads(dir: string): [number, number, number] {
  const m = loadModel(join(NODE_TESTS, dir, 'model.onnx'));
  const op = m.graph.nodes.find((n) => n.is(Op.Attention))!;
  const q = shapeOf(op.inputs[0]!.type)!;
  const k = shapeOf(op.inputs[1]!.type)!;
  if (q.length === 4) return [q[1] as number, k[1] as number, q[3] as number];
  const h = op.intAttr('q_num_heads')!;
  return [h, op.intAttr('kv_num_heads')!, (q[2] as number) / h];
}

describe('ONNX Attention backend tests', () => {
  it('covers the 93 op models and their 93 expanded forms', () => {
    expect(attentionTests.filter((d) => !d.endsWith('_expanded')).length).toBe(93);
    expect(attentionTests.filter((d) => d.endsWith('_expanded')).length).toBe(93);
  });

  for (const dir of attentionTests) {
    it(dir, () => {
      const { sites } = scanModelFile(join(NODE_TESTS, dir, 'model.onnx'));
      expect(sites.length).toBe(1);
      const s = sites[0]!;
      const op = dir.replace(/_expanded$/, '');
      expect([s.numHeads, s.numKvHeads, s.headDim]).toEqual(declaredHeads(op));
      expect(s.pattern).toBe(dir.endsWith('_expanded') ? 'decomposed' : 'onnx-attention');
      if (dir.includes('past_and_present')) expect(s.cache).not.toBeNull();
    });
  }
});
