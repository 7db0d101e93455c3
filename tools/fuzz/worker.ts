/**
 * A fuzz worker: a child process that runs cases one at a time, in-process, through the CLI's
 * entry function (`main(argv)` of src/cli/main.ts, which returns the exit code instead of
 * exiting). The parent sends a case index; the worker lays out the case in an empty folder,
 * runs it there with stdout/stderr captured, and answers with its class. A hang or the death of
 * this process is the parent's to see (it holds the watchdog).
 *
 *   parent ──{index}──▶ worker: makeCase ─▶ files ─▶ chdir ─▶ main(['--debug', ...argv]) ─▶ class
 *   parent ◀─{result}── worker
 */
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { machineMemory } from '../../src/calibrate/size-check.js';
import { addressSpaceBound, limitAddressSpace } from '../../src/cli/address-space.js';
import { main } from '../../src/cli/main.js';
import { loadCorpus } from './corpus.js';
import type { FuzzCase } from './case.js';
import { makeCase } from './case.js';
import { layOut } from './layout.js';

export type Outcome = 'exit0' | 'exit1' | 'exit2' | 'crash' | 'hang' | 'changed';

export interface RunRequest {
  readonly root: string;
  readonly seed: number;
  readonly index: number;
  readonly workDir: string;
}

export interface RunResult {
  readonly index: number;
  readonly outcome: Outcome;
  readonly code: number | undefined;
  readonly message: string;
  /** CPU milliseconds the case took in this process (all threads, onnxruntime's included). */
  readonly ms?: number;
}

/** A fuzz process's address-space bound: the CLI's, less the room for mapped external weights. */
export function fuzzAddressSpaceBound(): number {
  return addressSpaceBound(machineMemory(), availableParallelism(), 0);
}

/** The inputs a run must never touch: every file of the case still has its bytes. */
function changedInputs(c: FuzzCase, dir: string): string[] {
  const changed: string[] = [];
  for (const [rel, bytes] of c.files) {
    let now: Buffer | undefined;
    try {
      now = readFileSync(join(dir, rel));
    } catch {
      now = undefined;
    }
    if (now === undefined || !now.equals(bytes)) changed.push(rel);
  }
  return changed;
}

/** Run one case in `dir` with output captured; never throws. */
export async function runCase(c: FuzzCase, dir: string): Promise<RunResult> {
  const cpu0 = process.cpuUsage();
  layOut(c, dir);
  const home = process.cwd();
  // stdout and stderr in one transcript, in the order the command wrote them (main() writes
  // only to the Io it is given: tests/cli/binary.test.ts checks that of the built program)
  const captured: string[] = [];
  const capture = { write: (text: string) => captured.push(text) };
  let stray: unknown;
  const onStray = (e: unknown): void => {
    stray ??= e;
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  let code: number | undefined;
  let thrown: unknown;
  process.exitCode = undefined;
  process.chdir(dir);
  try {
    code = await main(['--debug', ...c.argv], { stdout: capture, stderr: capture });
    // Let a rejection the command left behind surface before judging the run.
    await new Promise((r) => setTimeout(r, 1));
  } catch (e) {
    thrown = e;
  } finally {
    process.chdir(home);
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    process.exitCode = undefined;
  }
  const text = captured.join('').slice(-6000);
  const changed = changedInputs(c, dir);
  rmSync(dir, { recursive: true, force: true });
  const used = process.cpuUsage(cpu0);
  const ms = (used.user + used.system) / 1000;
  const describe = (e: unknown): string => (e instanceof Error ? (e.stack ?? e.message) : String(e));
  if (thrown !== undefined) return { index: c.index, outcome: 'crash', code, message: `main() threw: ${describe(thrown)}\n${text}` };
  if (stray !== undefined) return { index: c.index, outcome: 'crash', code, message: `uncaught after the command: ${describe(stray)}\n${text}` };
  if (changed.length > 0) return { index: c.index, outcome: 'changed', code, message: `exit ${code}, but input file(s) changed: ${changed.join(', ')}\n${text}` };
  if (code === 0 || code === 1 || code === 2) return { index: c.index, outcome: `exit${code}`, code, message: text, ms };
  return { index: c.index, outcome: 'crash', code, message: `exit code ${code}\n${text}` };
}

// As a child process: answer run requests until the parent disconnects.
if (process.send !== undefined && process.argv.includes('--fuzz-worker')) {
  // The CLI's net against allocations of terabytes, for every case this process runs; tighter by
  // the mapped weights' share, which the corpus's small models do not need: with several
  // workers on one machine, any allocation past its memory fails.
  limitAddressSpace([], fuzzAddressSpaceBound());
  let corpus: ReturnType<typeof loadCorpus> | undefined;
  process.on('message', (req: RunRequest) => {
    corpus ??= loadCorpus(req.root);
    const c = makeCase(req.seed, req.index, corpus);
    process.send!({ started: req.index, command: c.command });
    void runCase(c, join(req.workDir, `case-${req.index}`)).then((r) => process.send!(r));
  });
  process.on('disconnect', () => process.exit(0));
}
