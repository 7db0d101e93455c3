/**
 * npm run bench:calibrate — on the corpus decoders, calibration (the observer graph run over
 * sets 0-7, statistics included) against plain inference of the original model over the same
 * sets, side by side in one run (alternating, best of 9, one onnxruntime thread on both sides).
 * Target: ratio <= 1.25.
 *
 * Times are CPU time of the process (user + system, all threads): on this shared machine the
 * wall time of a 100 ms run swings by 2x from one run to the next. Printed per side: the session
 * (plain: onnxruntime loads the model file; calibration: the model is cloned, observers are
 * inserted into the clone, appended to the file's bytes and loaded) and the runs over the 8 sets, then the ratio of the sums. With so few,
 * so small sets the session dominates; the runs column shows the cost per set of observing.
 *
 * npm run bench:calibrate -- --ep cuda [--model PATH] [--sets 0-7] [--quantize-static]
 * measures on the GPU (wall time: CUDA runs asynchronously to the process's CPU time), on the
 * corpus decoders or on PATH: per set after the first (warm), plain inference vs calibration
 * (target <= 1.05), and with --quantize-static, `ctc compile` end to end vs onnxruntime's Python
 * quantize_static on the same model and sets (scripts/gpu/quantize_static.py; target >= 20x).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compile, observerGraph } from '../src/compile.js';
import { ATTENTION_PATTERNS } from '../src/attention/patterns/index.js';
import { findSites } from '../src/attention/find-sites.js';
import { findDataSets, testDataSets } from '../src/calibrate/data.js';
import { createSession, toOrtTensor } from '../src/calibrate/ort.js';
import { calibrate } from '../src/calibrate/run.js';
import { loadModel, readModelFile } from '../src/onnx/model-file.js';
import { quantEdges } from '../src/quant/edges.js';
import { loadRuleSet } from '../src/rules/load.js';
import { planSites } from '../src/rules/targets.js';

const MODELS = ['llama-gqa-bytes-ts-eager', 'llama-gqa-bytes-dynamo-op23', 'gpt2-bytes-ts-eager'];
const rules = loadRuleSet('fp8-head');

interface Timed {
  session: number;
  runs: number;
}

/** CPU milliseconds of this process so far (all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function plain(path: string): Promise<Timed> {
  const model = loadModel(path);
  const sets = testDataSets(model, findDataSets(path, [], '0-7'));
  const t0 = cpuMs();
  const session = await createSession(path, { optimization: 'basic', intraOpThreads: 1 });
  const t1 = cpuMs();
  for (const s of sets) {
    const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
    for (const [k, t] of s.load()) feeds[k] = toOrtTensor(t);
    await session.run(feeds);
  }
  const t2 = cpuMs();
  await session.release();
  return { session: t1 - t0, runs: t2 - t1 };
}

async function observed(path: string): Promise<Timed> {
  const { model, bytes } = readModelFile(path);
  const edges = quantEdges(planSites(rules, findSites(model, ATTENTION_PATTERNS).sites));
  const sets = testDataSets(model, findDataSets(path, [], '0-7'));
  const t0 = cpuMs();
  let t1 = 0;
  await calibrate({
    modelPath: path,
    graph: observerGraph(model, bytes, edges),
    edges,
    sets,
    providers: ['cpu'],
    threads: 1,
    // progress starts once the observer graph's session exists, right before the first set
    progress: { start: () => (t1 = cpuMs()), tick: () => {}, done: () => {} },
    warn: () => {},
  });
  const t2 = cpuMs();
  return { session: t1 - t0, runs: t2 - t1 };
}

const { values: args } = parseArgs({ options: { ep: { type: 'string', default: 'cpu' }, model: { type: 'string' }, sets: { type: 'string', default: '0-7' }, 'quantize-static': { type: 'boolean', default: false } } });

/** Wall ms per set after the first, over the sets, for plain inference or calibration on CUDA. */
async function perSetCuda(path: string, observe: boolean): Promise<number> {
  const { model, bytes } = readModelFile(path);
  const sets = testDataSets(model, findDataSets(path, [], args.sets));
  const stamps: number[] = [];
  if (observe) {
    const edges = quantEdges(planSites(rules, findSites(model, ATTENTION_PATTERNS).sites));
    await calibrate({ modelPath: path, graph: observerGraph(model, bytes, edges), edges, sets, providers: ['cuda'], progress: { start: () => stamps.push(performance.now()), tick: () => stamps.push(performance.now()), done: () => {} }, warn: () => {} });
  } else {
    const session = await createSession(path, { providers: ['cuda'], optimization: 'basic' });
    stamps.push(performance.now());
    for (const s of sets) {
      const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
      for (const [k, t] of s.load()) feeds[k] = toOrtTensor(t);
      await session.run(feeds);
      stamps.push(performance.now());
    }
    await session.release();
  }
  // stamps: start, then one per set; the first set pays for CUDA kernels' first launch.
  return (stamps.at(-1)! - stamps[1]!) / (stamps.length - 2);
}

if (args.ep === 'cuda') {
  const paths = args.model ? [args.model] : MODELS.map((m) => `corpus/${m}/model.onnx`);
  for (const path of paths) {
    let plainMs = Infinity;
    let calMs = Infinity;
    for (let i = 0; i < 3; i++) {
      plainMs = Math.min(plainMs, await perSetCuda(path, false));
      calMs = Math.min(calMs, await perSetCuda(path, true));
    }
    console.log(`${path}: per set on CUDA, plain ${plainMs.toFixed(2)} ms, calibration ${calMs.toFixed(2)} ms, ratio ${(calMs / plainMs).toFixed(3)} (target <= 1.05)`);
    if (args['quantize-static']) {
      const out = mkdtempSync(join(tmpdir(), 'ctc-bench-'));
      // onnxruntime's calibrator first: it loads the weights with Python's onnx, which refuses a
      // data file with several hard links (ctc's output must not have linked it yet).
      const py = JSON.parse(execFileSync('python3', ['scripts/gpu/quantize_static.py', path, args.sets, join(out, 'ort.onnx')], { encoding: 'utf8' }).trim().split('\n').pop()!) as { seconds: number };
      const t0 = performance.now();
      await compile({ model: path, rules: 'fp8-head', outDir: join(out, 'ctc'), calibSets: args.sets, providers: ['cuda'], progress: { start: () => {}, tick: () => {}, done: () => {} }, warn: () => {} });
      const ctcS = (performance.now() - t0) / 1000;
      console.log(`${path}: end to end, ctc compile --ep cuda ${ctcS.toFixed(2)} s, onnxruntime quantize_static (CPU) ${py.seconds.toFixed(2)} s, ${(py.seconds / ctcS).toFixed(1)}x (target >= 20x)`);
      rmSync(out, { recursive: true, force: true });
    }
  }
  process.exit(0);
}

const best = (a: Timed, b: Timed): Timed => ({ session: Math.min(a.session, b.session), runs: Math.min(a.runs, b.runs) });
let worst = 0;
console.log('CPU ms                         plain: session + runs     calibration: session + runs     ratio');
for (const name of MODELS) {
  const path = `corpus/${name}/model.onnx`;
  let p: Timed = { session: Infinity, runs: Infinity };
  let c: Timed = { session: Infinity, runs: Infinity };
  for (let i = 0; i < 9; i++) {
    p = best(p, await plain(path));
    c = best(c, await observed(path));
  }
  const ratio = (c.session + c.runs) / (p.session + p.runs);
  worst = Math.max(worst, ratio);
  const f = (x: number): string => x.toFixed(1).padStart(6);
  console.log(`${name.padEnd(30)} ${f(p.session)} + ${f(p.runs)}          ${f(c.session)} + ${f(c.runs)}                ${ratio.toFixed(2)}   (runs alone ${(c.runs / p.runs).toFixed(2)})`);
}
console.log(`\nworst ratio ${worst.toFixed(2)} (target <= 1.25)`);
