/**
 * One measurement of bench:scale in its own process (peak RSS is its own):
 *   read FILE                 read the model file (the graph part: weights are external)
 *   inspect FILE              load + find the attention sites
 *   compile FILE STATS OUT    ctc compile --rules fp8-head --stats STATS -o OUT --link-weights hardlink
 *                             (the weights are sparse files of 32 / 140 GB: a copy would write them out)
 * Prints {"seconds", "linkSeconds", "peakRssMB", "sites"} as JSON.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { silentProgress } from '../src/calibrate/run.js';
import { scanModelFile } from '../src/cli/inspect.js';
import { compile } from '../src/compile.js';
import { peakRssMB } from './serde-child.js';

const [mode, file, stats, out] = process.argv.slice(2) as [string, string, string, string];
const t0 = performance.now();
let sites = 0;
let linkSeconds = 0;
if (mode === 'read') readFileSync(file);
else if (mode === 'inspect') sites = scanModelFile(file).sites.length;
else {
  const r = await compile({ model: file, rules: 'fp8-head', outDir: out, stats: [stats], linkWeights: 'hardlink', progress: silentProgress, warn: () => {} });
  sites = r.quantizedSites;
  linkSeconds = r.output?.linkSeconds ?? 0;
}
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, linkSeconds, peakRssMB: peakRssMB(), sites }));
