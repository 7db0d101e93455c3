/**
 * npm run bench:scale [-- --json] — ctc on Llama-shaped decoders at 8B and 70B shapes whose
 * weights (32 GB and 280 GB of float32) live in one sparse external data file: the file has the
 * real size but takes no disk, and ctc never reads it.
 *
 * Per shape, each in a fresh process (best of 3): `ctc inspect` time, `ctc compile --stats`
 * time excluding the placing of the weight file (a hard link here), peak RSS, and in the same
 * run the time to read the model file itself (the graph: the physical floor).
 * Targets: compile 8B < 2 s, 70B < 5 s, peak RSS < 500 MB, growth linear in layers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTENTION_PATTERNS } from '../src/attention/patterns/index.js';
import { SHAPES, generateLlama } from '../corpus/generators/llama.js';
import { findSites } from '../src/attention/find-sites.js';
import { fileSha256 } from '../src/calibrate/run.js';
import type { Stats } from '../src/calibrate/stats.js';
import { edgeKeys, statsToJson } from '../src/calibrate/stats.js';
import { saveModel } from '../src/onnx/model-file.js';
import { quantEdges } from '../src/quant/edges.js';
import { loadRuleSet } from '../src/rules/load.js';
import { planSites } from '../src/rules/targets.js';

const json = process.argv.includes('--json');
const dir = mkdtempSync(join(tmpdir(), 'ctc-bench-scale-'));
const child = join(import.meta.dirname, 'scale-child.js');
const log = (s: string): void => {
  if (!json) console.log(s);
};

interface Run {
  seconds: number;
  linkSeconds: number;
  peakRssMB: number;
  sites: number;
}
function best(args: string[], runs = 3): Run {
  let b: Run | undefined;
  for (let i = 0; i < runs; i++) {
    if (args[0] === 'compile') rmSync(args[3]!, { recursive: true, force: true });
    const r = JSON.parse(execFileSync(process.execPath, [child, ...args], { encoding: 'utf8' })) as Run;
    if (b === undefined || r.seconds - r.linkSeconds < b.seconds - b.linkSeconds) b = { ...r, peakRssMB: Math.max(r.peakRssMB, b?.peakRssMB ?? 0) };
    else b.peakRssMB = Math.max(b.peakRssMB, r.peakRssMB);
  }
  return b!;
}

const results: Record<string, unknown>[] = [];
try {
  for (const name of ['8B', '70B']) {
    const shape = SHAPES[name]!;
    const folder = join(dir, name);
    execFileSync('mkdir', ['-p', folder]);
    const file = join(folder, 'model.onnx');
    const { model, weightBytes } = generateLlama(shape, { form: 'decomposed', weights: 'external', dir: folder, dataFile: 'model.onnx.data' });
    saveModel(model, file);
    // A statistics file with per-head values for every site (what calibration would save).
    const edges = quantEdges(planSites(loadRuleSet('fp8-head'), findSites(model, ATTENTION_PATTERNS).sites));
    const stats: Stats = {
      format: 'ctc-stats/1',
      model: fileSha256(file),
      edges: edgeKeys(edges),
      batches: [0, 1].map((b) => ({
        set: `test_data_set_${b}`,
        edges: edges.map((e) => ({ min: Array.from({ length: e.heads }, (_, h) => -1 - h / 10 - b), max: Array.from({ length: e.heads }, (_, h) => 1 + h / 10 + b) })),
      })),
    };
    const statsFile = join(folder, 'stats.json');
    writeFileSync(statsFile, statsToJson(stats));
    const out = join(folder, 'out');
    const read = best(['read', file], 5);
    const inspect = best(['inspect', file]);
    const comp = best(['compile', file, statsFile, out]);
    const row = {
      shape: name,
      layers: shape.layers,
      modelFileMB: statSync(file).size / 2 ** 20,
      weightsGB: weightBytes / 1e9,
      graphReadSeconds: read.seconds,
      inspectSeconds: inspect.seconds,
      compileSeconds: comp.seconds - comp.linkSeconds,
      linkSeconds: comp.linkSeconds,
      peakRssMB: Math.max(inspect.peakRssMB, comp.peakRssMB),
      sites: comp.sites,
    };
    results.push(row);
    log(
      `${name.padEnd(4)} ${String(shape.layers).padStart(3)} layers  weights ${row.weightsGB.toFixed(1)} GB (external, sparse)  model file ${row.modelFileMB.toFixed(2)} MiB\n` +
        `     graph read ${(read.seconds * 1000).toFixed(1)} ms   inspect ${(inspect.seconds * 1000).toFixed(0)} ms   compile --stats ${(row.compileSeconds * 1000).toFixed(0)} ms (+ ${(comp.linkSeconds * 1000).toFixed(1)} ms to hard-link the weights)   peak RSS ${row.peakRssMB.toFixed(0)} MB   ${comp.sites} sites`,
    );
  }
  const [a, b] = results as { compileSeconds: number; layers: number }[];
  log(`\ncompile time per layer: 8B ${((a!.compileSeconds / a!.layers) * 1000).toFixed(1)} ms, 70B ${((b!.compileSeconds / b!.layers) * 1000).toFixed(1)} ms (linear growth: about equal)`);
  log('targets: compile 8B < 2 s, 70B < 5 s; peak RSS < 500 MB');
  if (json) console.log(JSON.stringify(results.map((r) => ({ shape: r['shape'], inspectSeconds: r['inspectSeconds'], compileSeconds: r['compileSeconds'], peakRssMB: r['peakRssMB'], graphReadSeconds: r['graphReadSeconds'] }))));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
