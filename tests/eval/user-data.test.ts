/**
 * onnxruntime failures on the user's data are the user's to fix: exit 1 naming the set and
 * passing on onnxruntime's message, in compile and in eval. `eval` of two models with different
 * interfaces is exit 1 listing what differs.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');

/** A copy of the Llama with one data set: token ids, a mask of `maskLength`, four layers of cache of length 2. */
function llamaWithSet(ids: number[], maskLength: number): string {
  const d = mkdtempSync(join(tmpdir(), 'ctc-userdata-'));
  cpSync(LLAMA, join(d, 'model.onnx'));
  const set = join(d, 'test_data_set_0');
  mkdirSync(set);
  const tensors = [Tensor.fromInt64('input_ids', [1, ids.length], ids), Tensor.fromInt64('attention_mask', [1, maskLength], new Array(maskLength).fill(1))];
  for (let l = 0; l < 8; l++) tensors.push(Tensor.fromFloat32('past', DataType.FLOAT, [1, 2, 2, 32], new Array(128).fill(0.1)));
  tensors.forEach((t, i) => writeFileSync(join(set, `input_${i}.pb`), encodeTensorFile(t)));
  return join(d, 'model.onnx');
}

describe('onnxruntime failures on the data name the set', () => {
  it('a mask whose length disagrees with past + new tokens (shapes the declaration allows)', async () => {
    const model = llamaWithSet([1, 2, 3, 4], 3);
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-userdata-')), 'o');
    const r = await ctc('compile', model, '--rules', 'fp8-head', '-o', out);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ctc: test_data_set_0: onnxruntime could not run the model on this set: .*(Non-zero status code|Invalid|broadcast).*Check that this set's inputs agree with each other/s);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(existsSync(out)).toBe(false);
  });
  it('a token id past the vocabulary, in compile and in eval (which names the model)', async () => {
    const model = llamaWithSet([1, 2, 300, 4], 6);
    const r = await ctc('compile', model, '--rules', 'fp8-head', '-o', join(mkdtempSync(join(tmpdir(), 'ctc-userdata-')), 'o'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/test_data_set_0: onnxruntime could not run the model on this set: .*Gather.*idx=300/s);
    const e = await ctc('eval', model, model);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/test_data_set_0: onnxruntime could not run the reference .*model\.onnx on this set: .*idx=300/s);
  });
  it('a set of the wrong type or with an input missing is refused before onnxruntime runs', async () => {
    const model = llamaWithSet([1, 2, 3, 4], 6);
    const set = join(model, '..', 'test_data_set_0');
    writeFileSync(join(set, 'input_0.pb'), encodeTensorFile(Tensor.fromFloat32('input_ids', DataType.FLOAT, [1, 4], [1, 2, 3, 4])));
    const r = await ctc('eval', model, model);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/test_data_set_0: input_0\.pb is float\[1, 4\], but the model's input "input_ids" expects int64\[batch, seq\]/);
  });
});

describe('eval of two unrelated models', () => {
  it('lists what differs: inputs of other shapes, inputs only one takes, outputs the candidate lacks', async () => {
    const r = await ctc('eval', corpusModel('gpt2-bytes-ts-eager'), LLAMA);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/llama-gqa-bytes-ts-eager\/model\.onnx is not a version of .*gpt2-bytes-ts-eager\/model\.onnx: eval compares two models of one interface .* differ in 16 place\(s\):/);
    expect(r.stderr).toMatch(/input "past_key_values\.0\.key": reference float\[batch, 6, past_seq, 32\], candidate float\[batch, 2, past_seq, 32\]/);
    const b = await ctc('eval', corpusModel('gpt2-bytes-ts-eager'), corpusModel('bert-random-ts-eager'));
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/input "token_type_ids" int64\[batch, seq\]: only the candidate takes it/);
    expect(b.stderr).toMatch(/input "past_key_values\.0\.key" float\[batch, 6, past_seq, 32\]: the candidate has no such input/);
    expect(b.stderr).toMatch(/output "logits" float\[batch, seq, 256\]: the candidate lacks the reference's output/);
  });
});
