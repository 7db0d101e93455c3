/**
 * `npm run fuzz -- --minutes N [--runs N] [--seed S] [--out DIR] [--jobs J] [--timeout SEC]`:
 * a fuzz campaign over mutated corpus models and command lines (see campaign.ts), printing the
 * counts at the end; `--case N` replays one case of the seed in this process and prints its
 * output. Exit status 1 when the campaign found anything (exit 2, crash, hang, input changed).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCase } from './case.js';
import { FINDINGS, runCampaign } from './campaign.js';
import { loadCorpus } from './corpus.js';
import { fuzzAddressSpaceBound, runCase } from './worker.js';
import { limitAddressSpace } from '../../src/cli/address-space.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const ROOT = join(import.meta.dirname, '..', '..', '..');

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    runs: { type: 'string' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'fuzz-out' },
    jobs: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '60' },
    case: { type: 'string' },
  },
});
const num = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`fuzz: --${name} ${text}: a number >= 0\n`);
    process.exit(1);
  }
  return n;
};
const seed = num('seed', values.seed)!;

if (values.case !== undefined) {
  // A replay runs the case in this process: with the CLI's net against allocations of terabytes.
  limitAddressSpace([], fuzzAddressSpaceBound());
  const c = makeCase(seed, num('case', values.case)!, loadCorpus(ROOT));
  process.stdout.write(`case ${c.index}: ${c.command} on ${c.seed}\nmutations: ${c.what.join(' | ') || '(none)'}\nargv: ${JSON.stringify(c.argv)}\n`);
  const r = await runCase(c, join(mkdtempSync(join(tmpdir(), 'ctc-fuzz-case-')), 'case'));
  process.stdout.write(`${r.outcome} (exit code ${r.code})\n${r.message}\n`);
  process.exit(FINDINGS.includes(r.outcome) ? 1 : 0);
}

const minutes = num('minutes', values.minutes);
const runs = num('runs', values.runs);
if (minutes === undefined && runs === undefined) {
  process.stderr.write('fuzz: give --minutes N or --runs N\n');
  process.exit(1);
}
let last = Date.now();
const result = await runCampaign({
  root: ROOT,
  seed,
  ...(runs !== undefined ? { runs } : {}),
  ...(minutes !== undefined ? { minutes } : {}),
  out: values.out,
  jobs: num('jobs', values.jobs)!,
  timeoutMs: num('timeout', values.timeout)! * 1000,
  workerScript: join(import.meta.dirname, 'worker.js'),
  onResult: (r, c) => {
    if (FINDINGS.includes(r.outcome)) process.stdout.write(`  ${r.outcome} on case ${r.index}: ${r.message.split('\n').find((l) => l.includes('error') || l.trim() !== '') ?? ''}\n`);
    if (Date.now() - last > 30_000) {
      last = Date.now();
      process.stdout.write(`${c.runs} runs: exit 0 ${c.exit0}, exit 1 ${c.exit1}, exit 2 ${c.exit2}, crashes ${c.crash}, hangs ${c.hang}, inputs changed ${c.changed}\n`);
    }
  },
});
const c = result.counts;
process.stdout.write(`\nseed ${seed}: ${c.runs} runs in ${result.wallSeconds.toFixed(0)} s\n`);
process.stdout.write(`exit 0 ${c.exit0}, exit 1 ${c.exit1}, exit 2 ${c.exit2}, crashes ${c.crash}, hangs ${c.hang}, inputs changed ${c.changed}\n`);
for (const [cmd, k] of Object.entries(result.byCommand).sort()) process.stdout.write(`  ${cmd.padEnd(15)} ${String(k.runs).padStart(6)} runs (${(k.ms / Math.max(1, k.runs)).toFixed(0)} ms CPU each): exit 0 ${k.exit0}, exit 1 ${k.exit1}, exit 2 ${k.exit2}, crashes ${k.crash}, hangs ${k.hang}, changed ${k.changed}\n`);
if (result.findings.length > 0) process.stdout.write(`${result.findings.length} finding(s) saved under ${join(values.out!, 'findings')}\n`);
process.exitCode = result.findings.length > 0 ? 1 : 0;
