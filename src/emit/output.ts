/**
 * Writing a compile's outputs into the write plan's staging folder (write-plan.ts moves them
 * into OUTDIR once all are written, so a failure leaves no partial output).
 *
 *   outputLayout(): the names OUTDIR will hold: model.onnx, model.onnx.data (--external-data),
 *   quantization_config.json, scales.json, and the input's external data files. An input data
 *   file whose name an output takes (model.onnx.data with --external-data, or scales.json) is
 *   placed under another name, and the output model points there.
 *
 *   writeOutputs(): places the input's external data files (a reflink where the file system can,
 *   else a copy with progress; a hard link only when asked: it has a cost), then
 *   writes the model and the JSON files.
 */
import { constants, copyFileSync, linkSync, mkdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Progress } from '../calibrate/run.js';
import { EnvironmentError, UsageError, environmentError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { PROTOBUF_LIMIT, saveModel, writeFileAtomic } from '../onnx/model-file.js';
import type { QuantEdge } from '../quant/edges.js';
import type { WritePlan } from './write-plan.js';

/** How an input's external data file was placed beside the output model. */
export type PlaceMethod = 'reflink' | 'copy' | 'hardlink';

/**
 * What --link-weights asks for instead of the default (reflink, else copy). There is no
 * symbolic link: onnxruntime (1.30) and ctc's own loader refuse external data reached through a
 * link that leaves the model's folder.
 */
export type LinkWeights = 'hardlink';

export interface WrittenOutput {
  readonly dir: string;
  readonly files: string[];
  /** External data files of the input, placed beside the output model. */
  readonly external: { readonly location: string; readonly source: string; readonly method: PlaceMethod; readonly bytes: number }[];
  /** Seconds spent placing those files (a copy of large weights can dominate a compile). */
  readonly linkSeconds: number;
}

export const MODEL_FILE = 'model.onnx';
export const EXTERNAL_DATA_FILE = 'model.onnx.data';
export const CONFIG_FILE = 'quantization_config.json';
export const SCALES_FILE = 'scales.json';
/** What the compile did, for `ctc report` (src/report/record.ts). */
export const RECORD_FILE = 'compile.json';
export const REPORT_FILE = 'report.html';

export interface OutputLayout {
  /** Every file OUTDIR may hold afterwards, relative to it (model.onnx.data always: if not written, an old one goes). */
  readonly files: string[];
  /** The input's external data files: where each is read, and its location in the output. */
  readonly external: { readonly source: string; readonly location: string; readonly outLocation: string }[];
}

export function outputLayout(model: Model, externalData: boolean): OutputLayout {
  const taken = [MODEL_FILE, ...(externalData ? [EXTERNAL_DATA_FILE] : []), CONFIG_FILE, SCALES_FILE, RECORD_FILE, REPORT_FILE];
  // Compared lower-case: on a case-insensitive disk Scales.json is scales.json.
  const takenLower = new Set(taken.map((n) => n.toLowerCase()));
  const external: OutputLayout['external'][number][] = [];
  const seen = new Set<string>();
  for (const v of model.graph.initializers) {
    const s = v.initializer!.storage;
    if (s.kind !== 'external' || seen.has(s.location)) continue;
    seen.add(s.location);
    let outLocation = normalize(s.location);
    const firstPart = (loc: string): string => loc.split(/[\\/]/)[0]!.toLowerCase();
    while (takenLower.has(firstPart(outLocation)) || takenLower.has(outLocation.toLowerCase())) outLocation = `input.${outLocation}`;
    takenLower.add(outLocation.toLowerCase());
    takenLower.add(firstPart(outLocation));
    external.push({ source: s.path, location: s.location, outLocation });
  }
  return { files: [...new Set([...taken, EXTERNAL_DATA_FILE, ...external.map((e) => e.outLocation)])], external };
}

/**
 * Before calibration: without --external-data the output's model.onnx holds every inline weight
 * of the input (`inputBytes`, the input file's size) plus the quantization nodes and their
 * scales; over protobuf's 2 GiB it could not be written, so it is refused now instead of after
 * hours of calibration. The additions are bounded generously (names of every Q/DQ node and
 * value, a scale and a zero point per head); saveModel checks the exact size again.
 */
export function checkInlineSize(modelPath: string, inputBytes: number, edges: readonly QuantEdge[]): void {
  let added = 0;
  for (const e of edges) for (const t of e.tensors) added += 16 * (t.value.name.length + e.scaleName.length + 64) + 8 * e.heads;
  if (inputBytes + added <= PROTOBUF_LIMIT) return;
  const gib = (n: number): string => (n / 2 ** 30).toFixed(2);
  throw new UsageError(
    `${modelPath}: the output model would be about ${gib(inputBytes + added)} GiB inline (the input's ${gib(inputBytes)} GiB of graph and weights, plus ${edges.length} quantized edge(s)), over protobuf's 2 GiB limit; add --external-data to write the weights to OUTDIR/${EXTERNAL_DATA_FILE} (nothing was calibrated or written)`,
  );
}

export interface WriteOptions {
  /** Move inline weights of at least this many bytes into OUTDIR/model.onnx.data. */
  readonly externalData?: boolean;
  readonly linkWeights?: LinkWeights | undefined;
  readonly progress: Progress;
  /** Write further outputs into the staging folder (committed with the rest; the plan lists them). */
  readonly writeMore?: (staging: string) => Promise<void>;
}

const EXTERNAL_THRESHOLD = 1024;
const COPY_CHUNK = 16 * 2 ** 20;
const TICK_BYTES = 2 ** 30;
const MiB = 2 ** 20;

/** Copy `src` to the new file `dst` in chunks (asynchronously, so that a signal is handled meanwhile). */
async function copyWithProgress(src: string, dst: string, label: string, progress: Progress): Promise<void> {
  const size = statSync(src).size;
  const from = await open(src, 'r');
  const to = await open(dst, 'wx');
  progress.start(size / MiB, `copying ${label}`, 'MiB');
  try {
    const buf = Buffer.alloc(Math.min(COPY_CHUNK, Math.max(size, 1)));
    let done = 0;
    let ticked = 0;
    while (done < size) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) throw new EnvironmentError(`${src}: the file shrank while ctc copied it; run again when nothing else writes it`);
      let written = 0;
      while (written < bytesRead) written += (await to.write(buf, written, bytesRead - written, done + written)).bytesWritten;
      done += bytesRead;
      if (done - ticked >= TICK_BYTES || done === size) {
        progress.tick(label, (done - ticked) / MiB);
        ticked = done;
      }
    }
    await to.sync();
  } finally {
    progress.done();
    await from.close();
    await to.close();
  }
}

/** Place `src` at `dst`: a reflink where the file system can, else a copy with progress; links only when asked. */
export async function place(src: string, dst: string, label: string, link: LinkWeights | undefined, progress: Progress): Promise<PlaceMethod> {
  try {
    if (link === 'hardlink') {
      linkSync(src, dst);
      return 'hardlink';
    }
    try {
      copyFileSync(src, dst, constants.COPYFILE_FICLONE_FORCE);
      return 'reflink';
    } catch {
      await copyWithProgress(src, dst, label, progress);
      return 'copy';
    }
  } catch (e) {
    throw environmentError(e, dst, link === undefined ? `copy the external data ${src}` : `hard-link the external data ${src}`);
  }
}

export async function writeOutputs(plan: WritePlan, model: Model, layout: OutputLayout, files: Record<string, string>, opts: WriteOptions): Promise<WrittenOutput> {
  const staging = plan.staging;
  const external: WrittenOutput['external'][number][] = [];
  const t0 = performance.now();
  for (const e of layout.external) {
    const dst = join(staging, e.outLocation);
    mkdirSync(dirname(dst), { recursive: true });
    const method = await place(e.source, dst, e.location, opts.linkWeights, opts.progress);
    external.push({ location: e.outLocation, source: e.source, method, bytes: statSync(e.source).size });
  }
  const linkSeconds = (performance.now() - t0) / 1000;
  const moved = new Map(layout.external.map((e) => [e.location, e.outLocation]));
  saveModel(model, join(staging, MODEL_FILE), {
    ...(opts.externalData ? { externalize: { location: EXTERNAL_DATA_FILE, threshold: EXTERNAL_THRESHOLD } } : {}),
    relocateExternal: (location) => moved.get(location) ?? location,
  });
  for (const [name, text] of Object.entries(files)) writeFileAtomic(join(staging, name), [Buffer.from(text, 'utf8')]);
  await opts.writeMore?.(staging);
  const written = plan.commit();
  return { dir: plan.outDir, files: written, external, linkSeconds };
}
