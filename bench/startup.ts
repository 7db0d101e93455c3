/**
 * npm run bench:startup — how long `ctc` takes to start: the bundled program (dist/ctc.js, what
 * `ctc` and `npm run ctc` run) against tsc's unbundled entry point (dist/src/cli/main.js), on
 * commands whose own work is small (--version, rules, inspect of a corpus model), alternated
 * run by run so that the machine's load falls on both alike. Prints each one's median wall time
 * over the runs and the ratio (target: a quarter of a second less per start).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRIES = { bundled: join(ROOT, 'dist', 'ctc.js'), unbundled: join(ROOT, 'dist', 'src', 'cli', 'main.js') };
const COMMANDS = [['--version'], ['rules'], ['inspect', join(ROOT, 'corpus', 'gpt2-bytes-ts-eager', 'model.onnx')]];
const RUNS = Number(process.argv[2] ?? 9);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function wallMs(entry: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${entry} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return performance.now() - t0;
}

console.log(`ctc start-up, median of ${RUNS} runs each (ms)`);
console.log('command'.padEnd(14), 'bundled'.padStart(8), 'unbundled'.padStart(10), 'ratio'.padStart(6));
for (const args of COMMANDS) {
  const times: Record<keyof typeof ENTRIES, number[]> = { bundled: [], unbundled: [] };
  for (let i = 0; i < RUNS; i++) for (const k of ['bundled', 'unbundled'] as const) times[k].push(wallMs(ENTRIES[k], args));
  const b = median(times.bundled);
  const u = median(times.unbundled);
  console.log(args[0]!.padEnd(14), b.toFixed(0).padStart(8), u.toFixed(0).padStart(10), (b / u).toFixed(2).padStart(6));
}
