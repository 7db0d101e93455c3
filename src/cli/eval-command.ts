/**
 * `ctc eval REFERENCE CANDIDATE`: the comparison report as a table or --json.
 */
import { evaluate } from '../eval/evaluate.js';
import type { EvalReport } from '../eval/evaluate.js';
import { sortKeys } from '../emit/config.js';
import { parseProviders } from './compile-command.js';
import { makeProgress } from './progress.js';
import { table } from './table.js';

export interface EvalFlags {
  readonly reference: string;
  readonly candidate: string;
  readonly data?: string[] | undefined;
  readonly sets?: string | undefined;
  readonly ep: string;
  readonly json: boolean;
  readonly quiet: boolean;
}

export async function evalCommand(f: EvalFlags, out: (s: string) => void): Promise<void> {
  const report = await evaluate({
    reference: f.reference,
    candidate: f.candidate,
    ...(f.data ? { data: f.data } : {}),
    ...(f.sets ? { sets: f.sets } : {}),
    providers: parseProviders(f.ep),
    progress: makeProgress({ quiet: f.quiet || f.json }),
    warn: (m) => process.stderr.write(`ctc: warning: ${m}\n`),
  });
  out(f.json ? JSON.stringify(sortKeys(report), null, 2) : render(report));
}

function render(r: EvalReport): string {
  const lines = [`${r.sets} set(s)`, '', table(['output', 'max |diff|', 'mean |diff|'], Object.entries(r.outputs).map(([k, d]) => [k, d.maxAbs.toExponential(3), d.meanAbs.toExponential(3)]))];
  if (r.perplexity) {
    const change = ((r.perplexity.candidate / r.perplexity.reference - 1) * 100).toFixed(3);
    lines.push(
      '',
      `perplexity over ${r.tokens} predicted tokens: reference ${r.perplexity.reference.toFixed(5)}, candidate ${r.perplexity.candidate.toFixed(5)} (${change}%)`,
      `KL(reference || candidate) ${r.kl!.toExponential(3)} nats/token, top-1 agreement ${(r.top1Agreement! * 100).toFixed(2)}%`,
    );
  }
  return lines.join('\n');
}
