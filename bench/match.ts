/**
 * npm run bench:match — attention matching on generated Llama-shaped graphs of 2, 32 and 80
 * layers: time per node (it should stay flat as the graph grows) and the time for 32 layers
 * (target: under 50 ms).
 */
import { performance } from 'node:perf_hooks';
import { ATTENTION_PATTERNS } from '../src/attention/patterns/index.js';
import { findSites } from '../src/attention/find-sites.js';
import { generateLlama } from '../corpus/generators/llama.js';

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
