/**
 * The ONNX backend tests of the Attention and FlexAttention operators: each model (the op, and
 * its function body expanded into MatMul/Softmax) is exactly one site, with the heads its
 * attributes and input shapes state. (The LinearAttention tests are not softmax attention.)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanModelFile } from '../../src/cli/inspect.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { shapeOf } from '../../src/ir/types.js';
import { NODE_TESTS } from '../harness/paths.js';

const attentionTests = readdirSync(NODE_TESTS).filter((d) => d.startsWith('test_attention_') || d.startsWith('test_flexattention'));
const opModel = (d: string): string => d.replace(/_expanded(_ver26)?$/, '');
const expanded = (d: string): boolean => /_expanded(_ver26)?$/.test(d);

/** Heads as the op's attributes and declared input shapes state them. */
function declaredHeads(dir: string): [number, number, number] {
  const m = loadModel(join(NODE_TESTS, dir, 'model.onnx'));
  const op = m.graph.nodes.find((n) => n.is(Op.Attention) || n.is(Op.FlexAttention))!;
  const q = shapeOf(op.inputs[0]!.type)!;
  const k = shapeOf(op.inputs[1]!.type)!;
  if (q.length === 4) return [q[1] as number, k[1] as number, q[3] as number];
  const h = op.intAttr('q_num_heads')!;
  return [h, op.intAttr('kv_num_heads')!, (q[2] as number) / h];
}

describe('ONNX Attention backend tests', () => {
  it('covers the 93 Attention and 11 FlexAttention op models and their expanded forms', () => {
    expect(attentionTests.filter((d) => d.startsWith('test_attention_') && !expanded(d)).length).toBe(93);
    expect(attentionTests.filter((d) => d.startsWith('test_attention_') && expanded(d)).length).toBe(93);
    expect(attentionTests.filter((d) => d.startsWith('test_flexattention') && !expanded(d)).length).toBe(11);
    expect(attentionTests.filter((d) => d.startsWith('test_flexattention') && expanded(d)).length).toBe(11);
  });

  for (const dir of attentionTests) {
    it(dir, () => {
      const { sites } = scanModelFile(join(NODE_TESTS, dir, 'model.onnx'));
      expect(sites.length).toBe(1);
      const s = sites[0]!;
      expect([s.numHeads, s.numKvHeads, s.headDim]).toEqual(declaredHeads(opModel(dir)));
      expect(s.pattern).toBe(expanded(dir) ? 'decomposed' : dir.startsWith('test_flexattention') ? 'flex-attention' : 'onnx-attention');
      if (dir.includes('past_and_present')) expect(s.cache).not.toBeNull();
    });
  }
});
