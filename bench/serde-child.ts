/**
 * One measurement of bench:serde, in its own process so that its peak RSS is its own.
 *   plain FILE OUT     read the bytes and write them back (the physical floor)
 *   ctc FILE OUT       load (read, decode, verify) and save (encode, write) through ctc's IR
 * Prints {"ms", "maxRssMB"} as JSON.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadModel, saveModel } from '../src/onnx/model-file.js';

/**
 * Peak RSS of this process. Linux keeps getrusage's ru_maxrss across fork+exec (a child would
 * report its parent's peak), so read VmHWM, which starts afresh with the new program.
 */
export function peakRssMB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS / 1024;
}

function main(): void {
const [mode, file, out] = process.argv.slice(2) as [string, string, string];
const t0 = performance.now();
if (mode === 'plain') {
  const bytes = readFileSync(file);
  const fd = openSync(out, 'w');
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  fsyncSync(fd);
  closeSync(fd);
} else {
  saveModel(loadModel(file), out);
}
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, maxRssMB: peakRssMB() }));
}

if (process.argv[1]?.endsWith('serde-child.js')) main();
