/**
 * node compare-scales.js A/scales.json B/scales.json [TOLERANCE]
 *
 * The largest relative difference between two scales.json files of one model (e.g. calibrated on
 * CPU and on CUDA), over every scale of every head; exit 1 when it exceeds TOLERANCE (default
 * 1e-5) or when the files name different scales. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';

type Scales = Record<string, { shape: number[]; values: number[] }>;
const [a, b, tol = '1e-5'] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: compare-scales A/scales.json B/scales.json [TOLERANCE]\n');
  process.exit(1);
}
const A = JSON.parse(readFileSync(a, 'utf8')) as Scales;
const B = JSON.parse(readFileSync(b, 'utf8')) as Scales;
const names = Object.keys(A).sort();
if (JSON.stringify(names) !== JSON.stringify(Object.keys(B).sort())) {
  process.stderr.write(`${a} and ${b} name different scales\n`);
  process.exit(1);
}
let worst = 0;
let where = '';
let count = 0;
for (const n of names) {
  A[n]!.values.forEach((x, i) => {
    const y = B[n]!.values[i]!;
    const rel = Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), Number.MIN_VALUE);
    count++;
    if (rel > worst) [worst, where] = [rel, `${n}[${i}]`];
  });
}
const ok = worst <= Number(tol);
process.stdout.write(`${JSON.stringify({ scales: count, maxRelativeDifference: worst, at: where, tolerance: Number(tol), ok })}\n`);
process.exit(ok ? 0 : 1);
