/**
 * The safety net behind the pre-run size check (calibrate/size-check.ts), for what shape
 * inference cannot see (an op it does not know, a size computed inside a subgraph): at start,
 * ctc lowers its own soft address-space limit (RLIMIT_AS) to a bound no real run comes near,
 * twice this machine's memory and swap plus room for threads. An allocation of terabytes then
 * fails at once with ENOMEM, which onnxruntime reports as an error (exit 1 naming the set), even
 * where the kernel overcommits memory (vm.overcommit_memory=1) and would otherwise grant it and
 * let the run fill the machine.
 *
 *   argv ─▶ CUDA asked for? ─ yes ─▶ nothing (the CUDA driver reserves address space by the GPU)
 *              │ no
 *              ▼
 *   bound = 2·(memory + swap) + 16 GiB + ½ GiB per core ─▶ lower than the soft limit now?
 *              ─ yes ─▶ prlimit --pid <self> --as=<bound>:   (hard limit untouched)
 *
 * Why this bound: a run's address space is its resident memory (at most memory + swap, or it
 * could not finish), external weights that onnxruntime maps from disk (at most one model, which
 * must fit the machine to be calibrated), and reservations that cost no memory (node measured
 * 0.7 GiB bare and 1.3 GiB for a calibration; glibc's malloc arenas, up to 8 per core at 64 MiB,
 * and thread stacks grow with the cores). Node has no setrlimit; util-linux's prlimit sets it
 * for this process. Where prlimit is missing or refuses, ctc runs as before: the size check
 * still holds. The fuzz workers take the bound without the mapped weights' share (their corpus
 * models are small), so that with several of them on one machine any allocation past its memory
 * fails.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { machineMemory } from '../calibrate/size-check.js';

const GiB = 2 ** 30;

/**
 * The address space a ctc process may reserve on a machine of `memory` bytes (memory + swap)
 * and `cores` cores, when onnxruntime may map up to `mappedWeights` bytes of external weights.
 */
export function addressSpaceBound(memory = machineMemory(), cores = availableParallelism(), mappedWeights = memory): number {
  return memory + mappedWeights + 16 * GiB + cores * (GiB / 2);
}

/**
 * Whether a command line asks for onnxruntime's CUDA provider (`--ep cuda`, `--ep=cuda,cpu`):
 * the CUDA driver reserves address space in proportion to the GPUs' memory, so the net is off.
 */
export function wantsCuda(argv: readonly string[]): boolean {
  return argv.some((a, i) => (a === '--ep' && /cuda/i.test(argv[i + 1] ?? '')) || (a.startsWith('--ep=') && /cuda/i.test(a)));
}

/** This process's soft and hard RLIMIT_AS from /proc/self/limits (Infinity: unlimited); undefined off Linux. */
export function addressSpaceLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } | undefined {
  try {
    const m = /^Max address space\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return undefined;
    const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

/**
 * Lower this process's soft RLIMIT_AS to `bound` unless CUDA is asked for or the
 * limit is already lower. Returns the bound applied, or undefined when nothing was changed.
 */
export function limitAddressSpace(argv: readonly string[], bound = addressSpaceBound()): number | undefined {
  if (wantsCuda(argv)) return undefined;
  const now = addressSpaceLimit();
  if (now === undefined || now.soft <= bound) return undefined;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--as=${bound}:`], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return undefined; // no prlimit (or not permitted): the size check alone
  }
  return addressSpaceLimit()?.soft === bound ? bound : undefined;
}
