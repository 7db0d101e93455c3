/**
 * Model files on disk: loading with every check a user's bad input needs (missing file, a
 * folder, not ONNX, external data that is missing, short, or outside the model's folder), and
 * atomic writing (temporary name, then rename: a failure never leaves a partial file).
 */
import { closeSync, existsSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { ModelLoadError, UsageError, environmentError, readFileChecked } from '../errors.js';
import type { Model } from '../ir/model.js';
import { verifyModel } from '../ir/verify.js';
import { decodeModel, encodeModel } from './serde.js';
import type { EncodeOptions, ExternalResolver } from './serde.js';

/** Check that `path` names a readable regular file; the error says what it is instead. */
export function requireFile(path: string, what = 'model'): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ModelLoadError(`${path}: no such file (the ${what} to read)`);
  }
  if (st.isDirectory()) throw new ModelLoadError(`${path}: is a folder, not a ${what} file`);
  if (!st.isFile()) throw new ModelLoadError(`${path}: is not a regular file`);
}

/**
 * A resolver for external data locations that refuses, without following it, any location that
 * leaves the model's folder: absolute paths, `..` segments, or a symlink that points outside.
 * It checks existence and size with a stat; it never reads the data.
 */
export function externalResolver(modelFile: string): ExternalResolver {
  const baseDir = dirname(resolve(modelFile));
  let realBase: string | undefined;
  return (location, tensorName) => {
    const where = `${modelFile}: tensor "${tensorName}"`;
    if (location === '' || isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\')) {
      throw new ModelLoadError(`${where} has external data at "${location}", an absolute location; ONNX locations must be relative to the model's folder, and ctc never follows one that leaves it`);
    }
    const parts = normalize(location).split(/[\\/]/);
    if (location.split(/[\\/]/).includes('..') || parts.includes('..')) {
      throw new ModelLoadError(`${where} has external data at "${location}", which leaves the model's folder ("..") and is refused`);
    }
    const path = join(baseDir, location);
    if (!existsSync(path)) throw new ModelLoadError(`${where} needs external data file "${location}", which does not exist beside the model (looked for ${path})`);
    realBase ??= realpathSync(baseDir);
    const real = realpathSync(path);
    const rel = relative(realBase, real);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new ModelLoadError(`${where} has external data at "${location}", a link that resolves outside the model's folder (${real}); refused`);
    }
    const st = statSync(real);
    if (!st.isFile()) throw new ModelLoadError(`${where} has external data at "${location}", which is not a regular file`);
    return { path: real, size: st.size };
  };
}

/** The largest protobuf message, and so the largest model.onnx: 2 GiB less a byte. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/**
 * Read a model file once: its bytes and the model decoded (and verified) from them. Inline
 * tensors are views into those bytes, so keeping both costs nothing more than the model.
 */
export function readModelFile(path: string): { model: Model; bytes: Uint8Array } {
  requireFile(path);
  const size = statSync(path).size;
  if (size > PROTOBUF_LIMIT) {
    throw new ModelLoadError(
      `${path}: is ${(size / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB limit, so it is no ONNX model file (a model that large keeps its weights in external data files beside model.onnx)`,
    );
  }
  const bytes = readFileChecked(path);
  const model = decodeModel(bytes, { file: path, baseDir: dirname(resolve(path)), resolveExternal: externalResolver(path) });
  verifyModel(model, path);
  return { model, bytes };
}

export function loadModel(path: string): Model {
  return readModelFile(path).model;
}

/**
 * Write chunks to `path` through a temporary file in the same folder, then rename. A full disk,
 * a read-only folder or a refused permission is an EnvironmentError naming `path` and the fix.
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const c of chunks) {
      let done = 0;
      while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw environmentError(e, path, 'write');
  }
}

export interface SaveResult {
  readonly modelPath: string;
  readonly externalPath?: string;
  readonly bytes: number;
}

/**
 * Encode and write a model. A model over the protobuf limit (2 GiB) must move its weights to
 * external data: without `externalize` that is refused with a message that says how.
 */
export function saveModel(model: Model, path: string, opts: EncodeOptions = {}): SaveResult {
  const encoded = encodeModel(model, opts);
  if (encoded.size > PROTOBUF_LIMIT) {
    throw new UsageError(
      `${path}: the model would be ${(encoded.size / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB limit; write its weights to external data (--external-data)`,
    );
  }
  let externalPath: string | undefined;
  if (encoded.external !== undefined) {
    externalPath = join(dirname(path), encoded.external.location);
    writeFileAtomic(externalPath, encoded.external.chunks);
  }
  writeFileAtomic(path, encoded.chunks);
  return externalPath ? { modelPath: path, externalPath, bytes: encoded.size } : { modelPath: path, bytes: encoded.size };
}
