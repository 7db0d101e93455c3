/**
 * `ctc eval REFERENCE CANDIDATE`: the comparison report as a table or --json.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RECORD_FILE } from '../emit/output.js';
import { evaluate } from '../eval/evaluate.js';
import { writeFileAtomic } from '../onnx/model-file.js';
import { renderEvalReport, renderReport } from '../report/page.js';
import type { EvalSummary } from '../report/page.js';
import { readRecord } from '../report/record.js';
import type { EvalReport } from '../eval/evaluate.js';
import { sortKeys } from '../emit/config.js';
import { parseProviders } from './compile-command.js';
import { parseThreads } from './options.js';
import type { Writer } from './io.js';
import { makeProgress } from './progress.js';
import { table } from './table.js';

export interface EvalFlags {
  readonly reference: string;
  readonly candidate: string;
  readonly data?: string[] | undefined;
  readonly sets?: string | undefined;
  readonly ep: string;
  readonly threads?: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
  /** Write an HTML page: the compile report of the candidate's folder (when it has compile.json) with the evaluation. */
  readonly report?: string | undefined;
}

/** The report goes to `out`; warnings and progress to `err`. */
export async function evalCommand(f: EvalFlags, out: (s: string) => void, err: Writer): Promise<void> {
  const report = await evaluate({
    reference: f.reference,
    candidate: f.candidate,
    ...(f.data ? { data: f.data } : {}),
    ...(f.sets ? { sets: f.sets } : {}),
    providers: parseProviders(f.ep),
    ...(f.threads !== undefined ? { threads: parseThreads(f.threads) } : {}),
    progress: makeProgress({ quiet: f.quiet || f.json, stream: err }),
    warn: (m) => err.write(`ctc: warning: ${m}\n`),
  });
  out(f.json ? JSON.stringify(sortKeys(report), null, 2) : render(report));
  if (f.report !== undefined) {
    const summary: EvalSummary = {
      reference: f.reference,
      candidate: f.candidate,
      ...(report.perplexity ? { perplexity: report.perplexity } : {}),
      ...(report.kl !== undefined ? { kl: report.kl } : {}),
      ...(report.top1Agreement !== undefined ? { top1Agreement: report.top1Agreement } : {}),
      ...(report.klByPosition ? { klByPosition: report.klByPosition } : {}),
    };
    const folder = dirname(f.candidate);
    const html = existsSync(join(folder, RECORD_FILE)) ? renderReport(readRecord(folder), summary) : renderEvalReport(summary);
    writeFileAtomic(f.report, [Buffer.from(html, 'utf8')]);
    if (!f.json) out(`wrote ${f.report}`);
  }
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
