/**
 * compile.json: what a compile did, in one deterministic file beside the model (no times, no
 * absolute paths), so that `ctc report OUTDIR` can draw the page later without the input model.
 *
 *   sites found (siteToJson) · Softmax nodes not taken and why · per quantized edge: its
 *   QuantizationArgs, the observed per-head range and the chosen per-head scale and zero point
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rejection } from '../attention/find-sites.js';
import type { SiteJson } from '../attention/site.js';
import { CtcError } from '../errors.js';
import type { QuantizationArgs } from '../quant/args.js';

export { RECORD_FILE } from '../emit/output.js';
import { RECORD_FILE } from '../emit/output.js';
export const RECORD_FORMAT = 'ctc-compile/1';

export interface EdgeRecord {
  readonly site: string;
  readonly layer: number;
  readonly role: 'q' | 'k' | 'v';
  readonly args: QuantizationArgs;
  readonly heads: number;
  /** Per head (one entry for a per-tensor strategy): the range the observer settled on (after its averaging or clip search). */
  readonly min: number[];
  readonly max: number[];
  readonly scale: number[];
  readonly zeroPoint: number[];
}

/** An edge quantized dynamically: its scales are computed in the model, so none is recorded. */
export interface DynamicEdgeRecord {
  readonly site: string;
  readonly layer: number;
  readonly role: 'q' | 'k' | 'v';
  readonly args: QuantizationArgs;
  readonly heads: number;
}

export interface CompileRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly model: string;
  readonly rules: string;
  /** `none`: every scale is dynamic and nothing else was measured. */
  readonly calibration: { readonly sets: number; readonly from: 'data' | 'random' | 'stats' | 'none' };
  readonly opset: { readonly before: number; readonly after: number };
  readonly sites: SiteJson[];
  readonly refused: Rejection[];
  readonly quantizedSites: string[];
  readonly edges: EdgeRecord[];
  /** Absent in records written before dynamic quantization existed. */
  readonly dynamicEdges?: DynamicEdgeRecord[];
  readonly files: string[];
}

/** Read and check OUTDIR/compile.json. */
export function readRecord(outDir: string): CompileRecord {
  const file = join(outDir, RECORD_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new CtcError(`${outDir}: no ${RECORD_FILE} there; \`ctc report\` reads the folder a \`ctc compile\` wrote (-o OUTDIR)`);
  }
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw new CtcError(`${file}: not JSON (${(e as Error).message})`);
  }
  const rec = r as Partial<CompileRecord>;
  if (rec.format !== RECORD_FORMAT) throw new CtcError(`${file}: format "${String(rec.format)}", expected "${RECORD_FORMAT}" (written by another ctc version?)`);
  for (const k of ['sites', 'refused', 'edges', 'files', 'quantizedSites'] as const) if (!Array.isArray(rec[k])) throw new CtcError(`${file}: "${k}" must be a list`);
  if (rec.dynamicEdges !== undefined && !Array.isArray(rec.dynamicEdges)) throw new CtcError(`${file}: "dynamicEdges" must be a list`);
  for (const [i, e] of rec.edges!.entries()) {
    // One entry per head, or one for the whole tensor.
    const n = e.args?.strategy === 'tensor' ? 1 : e.heads;
    for (const k of ['min', 'max', 'scale', 'zeroPoint'] as const) {
      const v = e[k];
      if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
        throw new CtcError(`${file}: edges[${i}].${k} must hold ${n} finite number(s)`);
      }
    }
  }
  return rec as CompileRecord;
}
