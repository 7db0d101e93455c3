/**
 * npm run bench:match — attention matching on generated Llama-shaped graphs of 2, 32 and 80
 * layers: time per node (it should stay flat as the graph grows) and the time for 32 layers
 * (target: under 50 ms); then on every model of the export zoo (corpus/zoo.tar.xz, unpacked
 * into .cache/zoo when missing): nodes vs match time, and the least-squares fit of time on
 * nodes (linear: time per node flat across families and exporters). Last, `re:` targets:
 * patterns that take a backtracking engine exponential time, matched over the 80 sites of an
 * 80-layer model beside a plain pattern (target: well under a second; RE2 is linear).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ATTENTION_PATTERNS } from '../src/attention/patterns/index.js';
import { findSites } from '../src/attention/find-sites.js';
import type { Model } from '../src/ir/model.js';
import { loadModel } from '../src/onnx/model-file.js';
import { generateLlama } from '../corpus/generators/llama.js';
import { loadRuleSet } from '../src/rules/load.js';
import { planSites } from '../src/rules/targets.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The best of `runs` timings of findSites on `model` (after one warm-up), in ms. */
function bestMatchMs(model: Model, runs: number): { ms: number; sites: number } {
  let sites = findSites(model, ATTENTION_PATTERNS).sites.length;
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    sites = findSites(model, ATTENTION_PATTERNS).sites.length;
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, sites };
}

const shape = { hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, vocab: 256 };
const rows: { layers: number; nodes: number; ms: number; usPerNode: number }[] = [];
for (const layers of [2, 32, 80]) {
  for (const form of ['decomposed', 'onnx-attention'] as const) {
    const { model } = generateLlama({ ...shape, layers }, { form, weights: 'inline' });
    const nodes = model.graph.nodes.length;
    // warm up, then the best of 5 runs (the machine is shared and noisy)
    findSites(model, ATTENTION_PATTERNS);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const { sites } = findSites(model, ATTENTION_PATTERNS);
      best = Math.min(best, performance.now() - t0);
      if (sites.length !== layers) throw new Error(`expected ${layers} sites, found ${sites.length}`);
    }
    rows.push({ layers, nodes, ms: best, usPerNode: (best * 1000) / nodes });
    console.log(`${form.padEnd(15)} ${String(layers).padStart(3)} layers  ${String(nodes).padStart(6)} nodes  ${best.toFixed(2).padStart(8)} ms  ${((best * 1000) / nodes).toFixed(2)} µs/node`);
  }
}
const at32 = rows.filter((r) => r.layers === 32);
const at80 = rows.filter((r) => r.layers === 80);
console.log(`\n32 layers: ${Math.max(...at32.map((r) => r.ms)).toFixed(2)} ms (target < 50 ms)`);
at32.forEach((r, i) => {
  console.log(`time per node, 80 layers / 32 layers (${i === 0 ? 'decomposed' : 'onnx-attention'}): ${(at80[i]!.usPerNode / r.usPerNode).toFixed(2)} (flat or falling: <= ~1)`);
});

// The export zoo: real exports of 43 Hugging Face families by three exporters.
const root = join(import.meta.dirname, '..', '..');
const zoo = join(root, '.cache', 'zoo');
if (!existsSync(join(zoo, 'results.json'))) {
  mkdirSync(join(root, '.cache'), { recursive: true });
  execFileSync('tar', ['-xJf', join(root, 'corpus', 'zoo.tar.xz'), '-C', join(root, '.cache')]);
}
const zooRows: { name: string; nodes: number; ms: number; sites: number }[] = [];
const refused: string[] = [];
for (const name of readdirSync(zoo).filter((d) => existsSync(join(zoo, d, 'model.onnx'))).sort()) {
  const model = loadModel(join(zoo, name, 'model.onnx'));
  try {
    zooRows.push({ name, nodes: model.graph.nodes.length, ...bestMatchMs(model, 5) });
  } catch {
    refused.push(name); // exit 1 (e.g. heads not static): no completed match to time
  }
}
console.log(`\nexport zoo: ${zooRows.length} models timed, ${refused.length} refused by findSites (${refused.join(', ')})`);
for (const r of zooRows) {
  console.log(`${r.name.padEnd(24)} ${String(r.nodes).padStart(6)} nodes  ${r.ms.toFixed(2).padStart(7)} ms  ${((r.ms * 1000) / r.nodes).toFixed(2).padStart(6)} µs/node  ${r.sites} sites`);
}
const perNode = zooRows.map((r) => (r.ms * 1000) / r.nodes).sort((a, b) => a - b);
const n = zooRows.length;
const pct = (q: number): string => perNode[Math.min(n - 1, Math.floor(n * q))]!.toFixed(2);
// The zoo graphs are small (sub-millisecond matches), so a fit of time on nodes is mostly timer
// noise; what shows linearity is that time per node stays in one narrow band whatever the
// family, the exporter or the size (the generated graphs above show it across sizes).
console.log(
  `\nzoo: ${Math.min(...zooRows.map((r) => r.nodes))}–${Math.max(...zooRows.map((r) => r.nodes))} nodes; time per node ` +
    `median ${pct(0.5)} µs, 10th–90th percentile ${pct(0.1)}–${pct(0.9)} µs, largest ${perNode[n - 1]!.toFixed(2)} µs ` +
    `(${(perNode[n - 1]! / perNode[n >> 1]!).toFixed(1)}× the median)`,
);

// re: targets in linear time: the pathological patterns of issue 9 beside a plain one.
{
  const { model } = generateLlama({ ...shape, layers: 80 }, { form: 'decomposed', weights: 'inline' });
  const sites = findSites(model, ATTENTION_PATTERNS).sites;
  const ruleFile = (targets: string[], ignore: string[]): string => {
    const f = join(mkdtempSync(join(tmpdir(), 'ctc-bench-re-')), 'r.json');
    writeFileSync(f, JSON.stringify({ config_groups: { attention: { targets, input_activations: { num_bits: 8, type: 'float', strategy: 'attn_head' } } }, ignore }));
    return f;
  };
  const bestPlanMs = (file: string): number => {
    const set = loadRuleSet(file);
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      if (planSites(set, sites).length !== sites.length) throw new Error('every site should match');
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const plain = bestPlanMs(ruleFile(['re:.*self_attn$'], []));
  const evil = bestPlanMs(ruleFile(['re:(.+)+z$', 're:(.+)+self_attn$'], ['re:(x+x+)+y', 're:(.*a){12}$']));
  console.log(`\nre: targets over ${sites.length} sites: re:.*self_attn$ ${plain.toFixed(2)} ms; re:(.+)+z$ and three more exponential-for-backtracking patterns ${evil.toFixed(2)} ms (${(evil / plain).toFixed(1)}×; target < 1000 ms)`);
}
