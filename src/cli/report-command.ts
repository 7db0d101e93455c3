/**
 * `ctc report OUTDIR [-o FILE]`: draws OUTDIR/report.html (or FILE) from the compile.json that
 * `ctc compile` wrote there. Nothing but that file is read: the page can be made on a laptop
 * from an output folder copied off a GPU host.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../onnx/model-file.js';
import { renderReport } from '../report/page.js';
import { readRecord } from '../report/record.js';
import { REPORT_FILE } from '../emit/output.js';

export function reportCommand(outDir: string, file: string | undefined, out: (s: string) => void): void {
  const record = readRecord(outDir);
  const target = file ?? join(outDir, REPORT_FILE);
  writeFileAtomic(target, [Buffer.from(renderReport(record), 'utf8')]);
  out(`wrote ${target}: ${record.sites.length} site(s), ${record.edges.length} quantized edge(s); open it in a browser`);
}
