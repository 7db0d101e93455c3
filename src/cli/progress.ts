/**
 * Progress on stderr: a bar on a terminal (done/total, rate, time left), plain lines otherwise,
 * nothing with --quiet. Units are sets (calibration, evaluation) or MiB (copying weights).
 */
import type { Progress } from '../calibrate/run.js';
import type { Writer } from './io.js';

const count = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

export function makeProgress(opts: { quiet: boolean; stream: Writer }): Progress {
  const out = opts.stream;
  if (opts.quiet) return { start: () => {}, tick: () => {}, done: () => {} };
  let total = 0;
  let done = 0;
  let what = '';
  let unit = 'sets';
  let t0 = 0;
  const tty = out.isTTY === true;
  const render = (label: string): void => {
    const elapsed = (Date.now() - t0) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    const left = rate > 0 ? (total - done) / rate : 0;
    if (tty) {
      const width = 24;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      out.write(`\r${what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count(done)}/${count(total)} ${unit}  ${rate.toFixed(1)} ${unit}/s  ${left.toFixed(0)}s left  `);
    } else {
      out.write(`${what}: ${count(done)}/${count(total)} (${label}) ${rate.toFixed(1)} ${unit}/s, ${left.toFixed(0)}s left\n`);
    }
  };
  return {
    start(n, w, u = 'sets') {
      total = n;
      done = 0;
      what = w;
      unit = u;
      t0 = Date.now();
      if (tty) render('');
    },
    tick(label, amount = 1) {
      done += amount;
      render(label);
    },
    done() {
      if (tty) out.write('\n');
    },
  };
}
