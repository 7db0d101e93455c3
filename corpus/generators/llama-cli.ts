/**
 * node dist/corpus/generators/llama-cli.js --shape 1B|8B|70B|tiny --out DIR
 *        [--form decomposed|onnx-attention] [--weights random|external|inline] [--dtype float32|float16]
 *        [--sets N] [--seq S] [--seed K]
 *
 * Writes DIR/model.onnx (+ model.onnx.data) from generators/llama.ts and N calibration sets in the
 * ONNX test-data layout: random token ids, a causal additive mask, the rotary cos/sin of positions
 * 0..S-1 and an empty cache (past length 0). For GPU runs at scale, where nothing can be
 * downloaded: the model is made on the machine that calibrates it.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { saveModel } from '../../src/onnx/model-file.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { SHAPES, generateLlama } from './llama.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'tiny' },
    out: { type: 'string' },
    form: { type: 'string', default: 'decomposed' },
    weights: { type: 'string', default: 'random' },
    dtype: { type: 'string', default: 'float32' },
    sets: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
    seed: { type: 'string', default: '1' },
  },
});
const shape = SHAPES[values.shape];
const fail = (m: string): never => {
  process.stderr.write(`llama-cli: ${m}\n`);
  process.exit(1);
};
if (!shape) fail(`--shape ${values.shape}: one of ${Object.keys(SHAPES).join(', ')}`);
if (!values.out) fail('--out DIR is required');
if (!['decomposed', 'onnx-attention'].includes(values.form)) fail('--form decomposed|onnx-attention');
if (!['random', 'external', 'inline'].includes(values.weights)) fail('--weights random|external|inline');
if (!['float32', 'float16'].includes(values.dtype)) fail('--dtype float32|float16');
const dir = values.out!;
if (existsSync(dir) && readdirSync(dir).length > 0) fail(`${dir} is not empty`);
mkdirSync(dir, { recursive: true });

const t0 = Date.now();
const { model, weightBytes } = generateLlama(shape!, {
  form: values.form as 'decomposed',
  weights: values.weights as 'random',
  dtype: values.dtype as 'float32',
  dir,
  dataFile: 'model.onnx.data',
});
saveModel(model, join(dir, 'model.onnx'));

const FT = values.dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
const S = Number(values.seq);
const D = shape!.hidden / shape!.heads;
let x = Number(values.seed) >>> 0 || 1;
const rand = (): number => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x / 0x100000000;
};
// Causal additive mask: 0 on and below the diagonal, the float16-safe -65504 above it.
const mask = Float32Array.from({ length: S * S }, (_, i) => (i % S <= Math.floor(i / S) ? 0 : -65504));
const angle = (pos: number, j: number): number => pos / 10000 ** ((2 * (j % (D / 2))) / D);
const cos = Float32Array.from({ length: S * D }, (_, i) => Math.cos(angle(Math.floor(i / D), i % D)));
const sin = Float32Array.from({ length: S * D }, (_, i) => Math.sin(angle(Math.floor(i / D), i % D)));
for (let n = 0; n < Number(values.sets); n++) {
  const set = join(dir, `test_data_set_${n}`);
  mkdirSync(set);
  const inputs: Tensor[] = [];
  for (const v of model.graph.inputs) {
    const name = v.name;
    if (name === 'input_ids') inputs.push(Tensor.fromInt64(name, [1, S], Array.from({ length: S }, () => Math.floor(rand() * shape!.vocab))));
    else if (name === 'attention_mask') inputs.push(Tensor.fromFloat32(name, FT, [1, 1, S, S], mask));
    else if (name === 'cos') inputs.push(Tensor.fromFloat32(name, FT, [1, 1, S, D], cos));
    else if (name === 'sin') inputs.push(Tensor.fromFloat32(name, FT, [1, 1, S, D], sin));
    else inputs.push(Tensor.fromFloat32(name, FT, [1, shape!.kvHeads, 0, D], []));
  }
  inputs.forEach((t, k) => writeFileSync(join(set, `input_${k}.pb`), encodeTensorFile(t)));
}
process.stdout.write(`${JSON.stringify({ dir, shape: values.shape, dtype: values.dtype, weightBytes, sets: Number(values.sets), seq: S, seconds: (Date.now() - t0) / 1000 })}\n`);
