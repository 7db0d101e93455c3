/**
 * A fuzz campaign: case indices 0, 1, 2, ... handed to worker processes one at a time, under a
 * watchdog, until a run count or a deadline; each finding saved as a reproducer.
 *
 *   index ─▶ worker (child process, cases in-process) ─▶ exit 0 | exit 1 | exit 2 | crash
 *        └── watchdog: no answer in time ─▶ kill ─▶ hang;  worker dies / RSS over limit ─▶ crash
 *   finding (exit 2, crash, hang, input changed) ─▶ OUT/findings/<class>-<index>/
 *
 * A case is a pure function of (seed, index), so a campaign's first N cases are the same
 * whatever the number of workers, and `--case N` replays one.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from './case.js';
import { makeCase } from './case.js';
import { loadCorpus } from './corpus.js';
import type { Seed } from './corpus.js';
import { layOut } from './layout.js';
import type { Outcome, RunRequest, RunResult } from './worker.js';

export interface CampaignOptions {
  readonly root: string;
  readonly seed: number;
  /** Stop after this many runs, or at the deadline, whichever comes first. */
  readonly runs?: number;
  readonly minutes?: number;
  /** Where findings go; none are saved without it. */
  readonly out?: string;
  readonly jobs?: number;
  readonly timeoutMs?: number;
  /** A worker whose resident memory passes this is killed, and its case is a crash. */
  readonly memoryMiB?: number;
  /** The compiled worker script (dist/tools/fuzz/worker.js). */
  readonly workerScript: string;
  readonly onResult?: (r: RunResult, counts: Counts) => void;
}

/** Runs by class, and the CPU milliseconds the answered runs took (hangs and deaths not counted). */
export type Counts = Record<Outcome, number> & { runs: number; ms: number };

export interface CampaignResult {
  readonly counts: Counts;
  readonly byCommand: Record<string, Counts>;
  readonly findings: RunResult[];
  readonly wallSeconds: number;
}

export const FINDINGS: readonly Outcome[] = ['exit2', 'crash', 'hang', 'changed'];
const emptyCounts = (): Counts => ({ runs: 0, ms: 0, exit0: 0, exit1: 0, exit2: 0, crash: 0, hang: 0, changed: 0 });
/** A worker is replaced after this many cases, so that no state builds up across thousands. */
const CASES_PER_WORKER = 300;
/** Time a fresh worker may take to load the CLI and onnxruntime on a loaded machine. */
const STARTUP_MS = 300_000;

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function saveFinding(out: string, corpus: readonly Seed[], seed: number, r: RunResult): string {
  const c = makeCase(seed, r.index, corpus);
  const dir = join(out, 'findings', `${r.outcome}-${r.index}`);
  layOut(c, join(dir, 'case'));
  writeFileSync(join(dir, 'argv.json'), `${JSON.stringify(c.argv)}\n`);
  writeFileSync(
    join(dir, 'report.txt'),
    [
      `${r.outcome} (exit code ${r.code ?? 'none'}) on case ${r.index} of seed ${seed}: ${c.command} on ${c.seed}`,
      `mutations: ${c.what.join(' | ') || '(none)'}`,
      `reproduce: cd ${join(dir, 'case')} && node <repo>/dist/src/cli/main.js ${c.argv.map((a) => JSON.stringify(a)).join(' ')}`,
      `       or: npm run fuzz -- --seed ${seed} --case ${r.index}`,
      '',
      r.message,
    ].join('\n'),
  );
  return dir;
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const t0 = Date.now();
  const deadline = o.minutes !== undefined ? t0 + o.minutes * 60_000 : Infinity;
  const limit = o.runs ?? Infinity;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const memoryMiB = o.memoryMiB ?? 2048;
  const corpus = loadCorpus(o.root);
  const workDir = mkdtempSync(join(tmpdir(), 'ctc-fuzz-'));
  const counts = emptyCounts();
  const byCommand: Record<string, Counts> = {};
  const findings: RunResult[] = [];
  const commandOf = new Map<number, Command>();
  let next = 0;

  const record = (r: RunResult): void => {
    const command = commandOf.get(r.index) ?? makeCase(o.seed, r.index, corpus).command;
    commandOf.delete(r.index);
    for (const c of [counts, (byCommand[command] ??= emptyCounts())]) {
      c.runs++;
      c.ms += r.ms ?? 0;
      c[r.outcome]++;
    }
    if (o.out !== undefined) {
      const said = r.message.split('\n').find((l) => l.startsWith('ctc: ') && !l.startsWith('ctc: warning')) ?? '';
      appendFileSync(join(o.out, 'runs.jsonl'), `${JSON.stringify({ index: r.index, command, outcome: r.outcome, ms: r.ms, said: said.slice(0, 300) })}\n`);
    }
    if (FINDINGS.includes(r.outcome)) {
      findings.push(r);
      if (o.out !== undefined) saveFinding(o.out, corpus, o.seed, r);
    }
    o.onResult?.(r, counts);
  };
  const more = (): boolean => next < limit && Date.now() < deadline;

  /** One slot: a worker process fed one case at a time, replaced when it dies or hangs. */
  const slot = (): Promise<void> =>
    new Promise((resolveSlot) => {
      let child: ChildProcess | undefined;
      let served = 0;
      let current: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      let memWatch: NodeJS.Timeout | undefined;
      let stderrTail = '';

      const finish = (r: RunResult): void => {
        clearTimeout(timer);
        current = undefined;
        record(r);
        feed();
      };
      const kill = (why: Outcome, message: string): void => {
        const index = current;
        const c = child;
        child = undefined;
        clearInterval(memWatch);
        c?.removeAllListeners();
        c?.kill('SIGKILL');
        if (index !== undefined) finish({ index, outcome: why, code: undefined, message });
        else feed();
      };
      const spawn = (): ChildProcess => {
        served = 0;
        stderrTail = '';
        const c = fork(o.workerScript, ['--fuzz-worker'], { execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
        c.stderr?.on('data', (d: Buffer) => {
          stderrTail = (stderrTail + d.toString('utf8')).slice(-4000);
        });
        c.on('message', (m: RunResult | { started: number; command: Command }) => {
          if ('started' in m) {
            // The case runs now: from here it has timeoutMs (starting a worker may take longer).
            commandOf.set(m.started, m.command);
            clearTimeout(timer);
            timer = setTimeout(() => kill('hang', `no answer within ${timeoutMs / 1000} s`), timeoutMs);
          }
          else if (m.index === current) finish(m);
        });
        c.on('exit', (code, signal) => {
          if (child !== c) return;
          kill('crash', `the worker process died (exit code ${code}, signal ${signal}) during the case\n${stderrTail}`);
        });
        memWatch = setInterval(() => {
          const rss = rssMiB(c.pid ?? 0);
          if (rss > memoryMiB) kill('crash', `the worker's resident memory passed ${memoryMiB} MiB (${rss.toFixed(0)} MiB) during the case`);
        }, 250);
        return c;
      };
      const feed = (): void => {
        if (!more()) {
          clearInterval(memWatch);
          child?.removeAllListeners();
          child?.disconnect();
          child = undefined;
          resolveSlot();
          return;
        }
        if (child !== undefined && served >= CASES_PER_WORKER) {
          clearInterval(memWatch);
          child.removeAllListeners();
          child.disconnect();
          child = undefined;
        }
        child ??= spawn();
        const index = next++;
        current = index;
        served++;
        timer = setTimeout(() => kill('hang', `the worker did not start the case within ${STARTUP_MS / 1000} s`), STARTUP_MS);
        const req: RunRequest = { root: o.root, seed: o.seed, index, workDir };
        child.send(req);
      };
      feed();
    });

  if (o.out !== undefined) {
    mkdirSync(o.out, { recursive: true });
    rmSync(join(o.out, 'runs.jsonl'), { force: true });
  }
  await Promise.all(Array.from({ length: o.jobs ?? 1 }, () => slot()));
  rmSync(workDir, { recursive: true, force: true });
  const wallSeconds = (Date.now() - t0) / 1000;
  const result = { counts, byCommand, findings: findings.sort((a, b) => a.index - b.index), wallSeconds };
  if (o.out !== undefined) writeFileSync(join(o.out, 'summary.json'), `${JSON.stringify({ seed: o.seed, ...result, findings: findings.map((f) => `${f.outcome}-${f.index}`) }, null, 2)}\n`);
  return result;
}
