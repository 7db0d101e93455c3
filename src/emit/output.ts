/**
 * Writing a compile's outputs: everything goes to a staging folder first and is moved into
 * OUTDIR only when all of it is written, so a failure leaves no partial output. External data
 * files of the input are placed beside the output model by hard link, reflink or copy (in that
 * order of preference) and the result says which.
 */
import { constants, copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { saveModel, writeFileAtomic } from '../onnx/model-file.js';

export type LinkMethod = 'hardlink' | 'reflink' | 'copy';

export interface WrittenOutput {
  readonly dir: string;
  readonly files: string[];
  /** External data files of the input, placed beside the output model. */
  readonly external: { readonly location: string; readonly method: LinkMethod; readonly bytes: number }[];
  /** Seconds spent placing those files (a copy of large weights can dominate a compile). */
  readonly linkSeconds: number;
}

function placeFile(src: string, dst: string): LinkMethod {
  try {
    linkSync(src, dst);
    return 'hardlink';
  } catch {
    try {
      copyFileSync(src, dst, constants.COPYFILE_FICLONE_FORCE);
      return 'reflink';
    } catch {
      copyFileSync(src, dst);
      return 'copy';
    }
  }
}

/** Refuse outputs that would overwrite the input or an earlier output. */
export function checkOutputDir(outDir: string, inputModel: string, force: boolean): void {
  const target = resolve(join(outDir, 'model.onnx'));
  if (target === resolve(inputModel) || (existsSync(target) && statSync(target).ino === statSync(inputModel).ino)) {
    throw new UsageError(`${outDir}: writing model.onnx there would overwrite the input model; choose another -o folder`);
  }
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`${outDir}: exists and is not a folder`);
  if (!force && existsSync(target)) throw new UsageError(`${outDir} already holds a model.onnx; choose another -o folder or pass --force to replace it`);
}

export interface WriteOptions {
  /** Move inline weights of at least this many bytes into OUTDIR/model.onnx.data. */
  readonly externalData?: boolean;
}

const EXTERNAL_THRESHOLD = 1024;

export function writeOutputs(outDir: string, model: Model, files: Record<string, string>, opts: WriteOptions = {}): WrittenOutput {
  const parent = dirname(resolve(outDir));
  mkdirSync(parent, { recursive: true });
  const staging = join(parent, `.${basename(outDir)}.ctc-staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  try {
    const external: WrittenOutput['external'][number][] = [];
    const seen = new Set<string>();
    const t0 = performance.now();
    for (const v of model.graph.initializers) {
      const s = v.initializer!.storage;
      if (s.kind !== 'external' || seen.has(s.location)) continue;
      seen.add(s.location);
      const dst = join(staging, s.location);
      mkdirSync(dirname(dst), { recursive: true });
      external.push({ location: s.location, method: placeFile(s.path, dst), bytes: statSync(s.path).size });
    }
    const linkSeconds = (performance.now() - t0) / 1000;
    saveModel(model, join(staging, 'model.onnx'), opts.externalData ? { externalize: { location: 'model.onnx.data', threshold: EXTERNAL_THRESHOLD } } : {});
    for (const [name, text] of Object.entries(files)) writeFileAtomic(join(staging, name), [Buffer.from(text, 'utf8')]);
    const written = readdirSync(staging);
    if (!existsSync(outDir)) renameSync(staging, outDir);
    else {
      for (const f of written) {
        rmSync(join(outDir, f), { recursive: true, force: true });
        renameSync(join(staging, f), join(outDir, f));
      }
      rmSync(staging, { recursive: true, force: true });
    }
    return { dir: outDir, files: written.sort(), external, linkSeconds };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
