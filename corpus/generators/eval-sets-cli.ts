/**
 * npm run eval-sets [-- --out DIR] [--count N]
 *
 * Builds the bigger evaluation set (eval-sets.ts) of both trained corpus models into
 * DIR/llama-gqa-bytes/ and DIR/gpt2-bytes/ (default .cache/eval-sets, ignored by git), then prints
 * each model's float perplexity on it. The Llama sets serve both Llama exports (ts-eager and
 * dynamo-op23 take the same inputs). Evaluate a compiled model on them with
 * `ctc eval MODEL OUT/model.onnx --data .cache/eval-sets/llama-gqa-bytes`.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentProgress } from '../../src/calibrate/run.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { DEFAULT_COUNT, EVAL_SET_MODELS, buildEvalSets } from './eval-sets.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const { values } = parseArgs({
  options: { out: { type: 'string', default: join(ROOT, '.cache', 'eval-sets') }, count: { type: 'string', default: String(DEFAULT_COUNT) } },
});
const count = Number(values.count);
if (!Number.isSafeInteger(count) || count < 1) throw new Error(`--count ${values.count}: a positive whole number`);

for (const [name, folder] of Object.entries(EVAL_SET_MODELS)) {
  const model = join(ROOT, 'corpus', folder, 'model.onnx');
  const dir = join(values.out, name);
  const starts = await buildEvalSets(model, join(ROOT, 'corpus', 'heldout.bin'), dir, count);
  const r = await evaluate({ reference: model, candidate: model, data: [dir], progress: silentProgress, warn: () => {} });
  console.log(`${name}: ${starts.length} sets (${r.tokens} predicted bytes) in ${dir}; float perplexity ${r.perplexity!.reference.toFixed(5)}`);
}
