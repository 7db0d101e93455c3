/**
 * Numeric command-line values, checked as text before any work: yargs' own `number` type turns
 * `abc` into NaN and `1.5` into 1.5 silently, so counts and sizes are read here instead, and a
 * bad one is a UsageError that names the option, what it got and what it takes.
 *
 *   --calib-random N   whole number ≥ 1
 *   --threads N        whole number 1..1024
 *   --dim NAME=N       N whole ≥ 1; a name given twice must agree with itself
 */
import { UsageError } from '../errors.js';

export const MAX_THREADS = 1024;

/** One value of an option; an option given twice arrives as an array, which is refused. */
function single(option: string, value: unknown): string {
  if (Array.isArray(value)) throw new UsageError(`${option} is given ${value.length} times (${value.join(', ')}): give it once`);
  return String(value).trim();
}

/** A whole number in [min, max] written in decimal digits, or a UsageError showing `shown`. */
function wholeNumber(shown: string, text: string, min: number, max: number, what: string): number {
  const n = /^\+?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${shown}: ${what} must be a whole number from ${min} to ${max}`);
  return n;
}

const quoted = (text: string): string => (text === '' ? "''" : text);

export function parseCalibRandom(value: unknown): number {
  const text = single('--calib-random', value);
  return wholeNumber(`--calib-random ${quoted(text)}`, text, 1, 2 ** 31 - 1, 'the number of random input sets');
}

export function parseThreads(value: unknown): number {
  const text = single('--threads', value);
  return wholeNumber(`--threads ${quoted(text)}`, text, 1, MAX_THREADS, 'the number of onnxruntime threads');
}

/** `--dim NAME=N ...` -> NAME -> N; each N ≥ 1, a NAME given twice only with the same N. */
export function parseDims(dims: readonly string[] | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of dims ?? []) {
    const m = /^([^=]+)=(.*)$/.exec(String(d));
    if (!m || m[1]!.trim() === '') throw new UsageError(`--dim ${d}: write NAME=N, e.g. --dim batch=1`);
    const name = m[1]!.trim();
    const n = wholeNumber(`--dim ${d}`, m[2]!.trim(), 1, Number.MAX_SAFE_INTEGER, 'a dimension size');
    const prev = out.get(name);
    if (prev !== undefined && prev !== n) throw new UsageError(`--dim ${name} is given twice with different sizes (${prev} and ${n}): give it once`);
    out.set(name, n);
  }
  return out;
}
