/**
 * npm run bench:calibrate — on the corpus decoders, the time of calibration (the observer graph
 * over sets 0-7, statistics included) against plain inference of the original model over the
 * same sets, side by side in one run (alternating, best of 5). Target: ratio <= 1.25.
 */
import { performance } from 'node:perf_hooks';
import { ATTENTION_PATTERNS } from '../rules/attention/index.js';
import { findSites } from '../src/attention/find-sites.js';
import { testDataSets } from '../src/calibrate/data.js';
import { createSession, toOrtTensor } from '../src/calibrate/ort.js';
import { calibrate, silentProgress } from '../src/calibrate/run.js';
import { loadModel } from '../src/onnx/model-file.js';
import { quantEdges } from '../src/quant/edges.js';
import { loadRuleSet } from '../src/rules/load.js';
import { planSites } from '../src/rules/targets.js';

const MODELS = ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'gpt2-bytes-ts-eager'];
const rules = loadRuleSet('fp8-head');

async function plain(path: string): Promise<number> {
  const t0 = performance.now();
  const model = loadModel(path);
  const sets = testDataSets(model, path, [], '0-7');
  const session = await createSession(path, { optimization: 'basic' });
  for (const s of sets) {
    const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
    for (const [k, t] of s.load()) feeds[k] = toOrtTensor(t);
    await session.run(feeds);
  }
  await session.release();
  return performance.now() - t0;
}

async function observed(path: string): Promise<number> {
  const t0 = performance.now();
  const model = loadModel(path);
  const edges = quantEdges(planSites(rules, findSites(model, ATTENTION_PATTERNS).sites));
  await calibrate({ modelPath: path, model, edges, sets: testDataSets(model, path, [], '0-7'), providers: ['cpu'], progress: silentProgress, warn: () => {} });
  return performance.now() - t0;
}

let worst = 0;
console.log('model                          plain inference ms   calibration ms   ratio');
for (const name of MODELS) {
  const path = `corpus/${name}/model.onnx`;
  let p = Infinity;
  let c = Infinity;
  for (let i = 0; i < 5; i++) {
    p = Math.min(p, await plain(path));
    c = Math.min(c, await observed(path));
  }
  worst = Math.max(worst, c / p);
  console.log(`${name.padEnd(30)} ${p.toFixed(1).padStart(18)}   ${c.toFixed(1).padStart(14)}   ${(c / p).toFixed(2)}`);
}
console.log(`\nworst ratio ${worst.toFixed(2)} (target <= 1.25); both include loading the model and creating the session, 8 sets each`);
