/**
 * Typed errors. A CtcError is the user's to fix (bad input, bad flags): the CLI prints its
 * message and exits with 1. Anything else is an internal failure (exit 2).
 */
import { readFileSync } from 'node:fs';

export class CtcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The model file cannot be read or is not a valid ONNX model. */
export class ModelLoadError extends CtcError {}

/** The graph breaks an IR invariant (cycle, two producers, dangling reference, ...). */
export class VerifyError extends CtcError {}

/** A rule file or rule set is invalid. */
export class RuleError extends CtcError {}

/** Attention matching found something it cannot interpret safely. */
export class MatchError extends CtcError {}

/** Calibration data or execution failed in a way the user can act on. */
export class CalibrationError extends CtcError {}

/** Command-line usage: a missing argument, a conflicting flag, an output that would overwrite. */
export class UsageError extends CtcError {}

/** The machine refused a file operation (disk full, read-only, permission): the user's to fix. */
export class EnvironmentError extends CtcError {}

const ENVIRONMENT_FIXES: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full; free some space (or write to another disk with -o) and run again',
  EDQUOT: 'your disk quota is used up; free some space (or write to another disk with -o) and run again',
  EFBIG: 'the file is too large for this file system; write to another disk with -o',
  EACCES: 'permission denied; choose a folder you may write to',
  EPERM: 'not permitted (an immutable file or folder: lsattr shows the i flag); choose another folder',
  EROFS: 'the file system is read-only; choose a folder on a writable disk',
  ENOTDIR: 'a part of the path is a file, not a folder; choose another path',
  EISDIR: 'it is a folder; name a file',
  ENAMETOOLONG: 'the name is too long; choose a shorter path',
  EMLINK: 'the file system allows no more links to that file; use the default (copy)',
  EXDEV: 'the source and the output are on different file systems, so a hard link is impossible; use the default (copy)',
  EIO: 'the disk reported an I/O error; check the disk',
};

const READ_ACCESS_FIX = 'permission denied; make it readable to you (chmod a+r, or ask its owner) or run ctc as a user who may read it';

/** Read a whole file; a refusal of the machine (permission, I/O) is an EnvironmentError naming it. */
export function readFileChecked(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw environmentError(e, path, 'read');
  }
}

/**
 * An error from the file system, while `doing` something to `path`, as the CtcError that says
 * what to do about it; anything that is not an environment error is returned unchanged.
 */
export function environmentError(e: unknown, path: string, doing: string): unknown {
  if (e instanceof CtcError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // Reading needs another fix than writing when permission is refused.
  const fix = code === undefined ? undefined : code === 'EACCES' && doing.startsWith('read') ? READ_ACCESS_FIX : ENVIRONMENT_FIXES[code];
  return fix === undefined ? e : new EnvironmentError(`${path}: cannot ${doing} (${code}): ${fix}`);
}

/**
 * The opset upgrade cannot keep a node's meaning. `reason` is a stable id (the list is
 * `RefusalReason` in passes/upgrade-opset/step.ts); the message names the op, the node and what
 * to do instead.
 */
export class OpsetUpgradeError extends CtcError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
