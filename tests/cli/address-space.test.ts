/**
 * The address-space net (src/cli/address-space.ts): a ctc process, and a fuzz worker, run with
 * their soft RLIMIT_AS lowered to addressSpaceBound(), as the kernel reports it in
 * /proc/PID/limits while they run; the hard limit stays; a lower limit the user set is kept;
 * a real compile succeeds under it, and an allocation it refuses is onnxruntime's error, exit 1.
 * `--ep cuda` turns it off (the CUDA driver's reservations).
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addressSpaceBound, addressSpaceLimit, wantsCuda } from '../../src/cli/address-space.js';
import { CLI, ROOT, corpusModel } from '../harness/paths.js';
import { llamaWithExpand } from '../harness/wide-expand.js';
import { machineMemory } from '../../src/calibrate/size-check.js';
import { fuzzAddressSpaceBound } from '../../tools/fuzz/worker.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');

/** The soft limit a child process ends up with: polled until it changes from `initial` or the child exits. */
async function observedSoftLimit(child: ChildProcess, initial: number): Promise<{ soft: number; hard: number; code: number | null }> {
  let seen = { soft: initial, hard: Infinity };
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  while (exited === undefined && Date.now() < deadline) {
    const now = addressSpaceLimit(child.pid!);
    if (now !== undefined) seen = now;
    if (seen.soft !== initial) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise<void>((r) => (exited !== undefined ? r() : child.on('exit', () => r())));
  return { ...seen, code: exited ?? null };
}

describe('the address-space net', () => {
  const mine = addressSpaceLimit()!;

  it('a compile runs with the soft limit lowered to the bound, the hard limit kept, and succeeds', async () => {
    expect(mine.soft).toBeGreaterThan(addressSpaceBound()); // as CI runs: nothing lower set
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-as-')), 'o');
    const child = spawn(process.execPath, [CLI, 'compile', LLAMA, '--rules', 'fp8-head', '--calib-sets', '0', '-o', out], { stdio: 'ignore' });
    const r = await observedSoftLimit(child, mine.soft);
    expect(r.soft).toBe(addressSpaceBound());
    expect(r.hard).toBe(mine.hard);
    expect(r.code).toBe(0);
    // no real run comes near it: twice memory and swap at least
    expect(r.soft).toBeGreaterThan(2 * 1024 ** 3);
  }, 90_000);

  it('a lower soft limit set by the user is kept', async () => {
    const lower = Math.min(addressSpaceBound() - 2 ** 30, 48 * 2 ** 30);
    const child = spawn('prlimit', [`--as=${lower}:`, process.execPath, CLI, 'inspect', LLAMA], { stdio: 'ignore' });
    // prlimit sets `lower` on itself, then runs the CLI in the same process: once seen, it must stay
    const seen: number[] = [];
    while (child.exitCode === null) {
      const now = addressSpaceLimit(child.pid!);
      if (now !== undefined && now.soft !== seen[seen.length - 1]) seen.push(now.soft);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen.slice(seen.indexOf(lower))).toEqual([lower]);
    expect(child.exitCode).toBe(0);
  }, 90_000);

  it("onnxruntime's allocation refused by the limit is exit 1 naming the set, not a crash", async () => {
    // 4 GiB: below this machine's memory (the size check lets it through), above a 3 GiB limit
    const model = llamaWithExpand([1024, 2 ** 20], false);
    const child = spawn('prlimit', [`--as=${3 * 2 ** 30}:`, process.execPath, CLI, 'eval', model, model], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/ctc: test_data_set_0: onnxruntime could not run the reference .*model\.onnx on this set: .*Failed to allocate memory for requested buffer of size 4294967296.*A tensor of the model is larger than this machine can hold on this set: check the constants that size it/s);
  }, 90_000);

  it('a fuzz worker runs its cases under the bound less the room for mapped weights', async () => {
    const worker = fork(join(ROOT, 'dist', 'tools', 'fuzz', 'worker.js'), ['--fuzz-worker'], { stdio: 'ignore' });
    try {
      let soft = mine.soft;
      const deadline = Date.now() + 60_000;
      while (soft === mine.soft && Date.now() < deadline) {
        soft = addressSpaceLimit(worker.pid!)?.soft ?? soft;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(soft).toBe(fuzzAddressSpaceBound());
      // memory and swap plus the room for threads: no mapped weights in the corpus's models
      expect(soft).toBe(addressSpaceBound() - machineMemory());
    } finally {
      worker.kill();
    }
  }, 90_000);

  it('is off where CUDA is asked for, whichever way --ep is written', () => {
    expect(wantsCuda(['compile', 'm.onnx', '--ep', 'cuda'])).toBe(true);
    expect(wantsCuda(['compile', 'm.onnx', '--ep=cuda,cpu'])).toBe(true);
    expect(wantsCuda(['compile', 'm.onnx', '--ep', 'CUDA'])).toBe(true);
    expect(wantsCuda(['compile', 'm.onnx', '--ep', 'cpu'])).toBe(false);
    expect(wantsCuda(['compile', 'cuda.onnx', '--rules', 'fp8-head'])).toBe(false);
  });
});
