/** The corpus Llama with one more output that an Expand sizes (size-check and address-space tests). */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { corpusModel } from './paths.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
/** One data set of the Llama's (its largest token id is what the data branch reads). */
const SET = join(LLAMA, '..', 'test_data_set_0');

/**
 * The Llama with one more output, "wide": a float 1 expanded to `shape`, where `fromIds` puts the
 * largest token id of the set in front (Expand(1, Concat(ReduceMax(input_ids), shape))).
 */
export function llamaWithExpand(shape: number[], fromIds: boolean): string {
  const m = loadModel(LLAMA);
  const b = new GraphBuilder(m);
  const one = b.constF32('one', [1], [1]);
  const rest = b.constI64('wide_shape', [shape.length], shape);
  let target = rest;
  if (fromIds) {
    const ids = m.graph.inputs.find((v) => v.name === 'input_ids')!;
    const max = b.op(Op.ReduceMax, [ids], [intAttr('keepdims', 0)], 'max_id');
    const first = b.op(Op.Unsqueeze, [max, b.constI64('axis0', [1], [0])], [], 'max_id_1d');
    target = b.op(Op.Concat, [first, rest], [intAttr('axis', 0)], 'wide_shape_from_ids');
  }
  b.output(b.op(Op.Expand, [one, target], [], 'wide_expand'), 'wide');
  const dir = mkdtempSync(join(tmpdir(), 'ctc-sizes-'));
  saveModel(m, join(dir, 'model.onnx'));
  cpSync(SET, join(dir, 'test_data_set_0'), { recursive: true });
  return join(dir, 'model.onnx');
}

