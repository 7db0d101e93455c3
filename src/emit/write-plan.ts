/**
 * The write plan of a compile, checked before any work (before calibration, before a byte of
 * output): everything ctc will read and everything it will write, each resolved by real path
 * and by (device, inode), so that no output lands on an input under another name, through a
 * symbolic link or through a hard link.
 *
 *   reads:  the model, its external data files, the rule file, --stats files, calibration files
 *   writes: OUTDIR and each file in it, the staging folder, --save-stats
 *      │  lstat and realpath every path
 *      ▼
 *   refuse, naming both paths: a write that is an input (even with --force); a write target that
 *   is not a regular file or a new path (a folder, device, FIFO, socket or symbolic link); two
 *   writes to one file; an existing output without --force; a folder that cannot be written
 *      │
 *      ▼
 *   create the staging folder exclusively. It is the lock (a second compile into the same OUTDIR
 *   exits 1) and the place every output is written to; commit() moves it into OUTDIR, release()
 *   removes it, as SIGINT and SIGTERM do.
 *
 * --save-stats inside OUTDIR is staged too, so that it joins the all-or-nothing output.
 */
import { accessSync, constants, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { EnvironmentError, UsageError, environmentError } from '../errors.js';

/** A file ctc reads, and what it is to the user ("the input model", "a --stats file"). */
export interface PlannedRead {
  readonly path: string;
  readonly what: string;
}

export interface WriteRequest {
  readonly reads: readonly PlannedRead[];
  readonly outDir: string;
  /**
   * Every file the output folder may hold afterwards, relative to it. One the compile does not
   * produce (model.onnx.data without --external-data) is removed from an earlier output, so
   * that a stale file is never left for a loader to read.
   */
  readonly outFiles: readonly string[];
  readonly saveStats?: string | undefined;
  readonly force: boolean;
  /** About how many bytes the output takes, so that a full disk is found before the work. */
  readonly needBytes?: number;
  /** What else frees space, for the message (e.g. linking instead of copying). */
  readonly spaceHint?: string;
  readonly warn: (m: string) => void;
}

export interface WritePlan {
  readonly outDir: string;
  /** Where every output file is written; it becomes OUTDIR, or its files move into OUTDIR. */
  readonly staging: string;
  /** Where to write --save-stats: in the staging folder when it belongs inside OUTDIR. */
  readonly saveStats: string | undefined;
  /** Move the staged files into OUTDIR; returns the names written. */
  commit(): string[];
  /** Remove the staging folder (unless committed) and stop listening for signals; idempotent. */
  release(): void;
}

/** Holds the staging folder's owner (pid and host), so that a crashed compile's folder is recognized. */
const OWNER = '.ctc-owner';

const identity = (st: Stats): string => `${st.dev}:${st.ino}`;

function kindOf(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** lstat (or stat, following links), undefined where nothing is. */
function lstatOrUndefined(path: string, follow = false): Stats | undefined {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (e) {
    // ENOTDIR: a file in the middle of the path; makeFolder names it.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw environmentError(e, path, 'look at');
  }
}

/** The real path of `path`, which need not exist: its nearest existing folder, resolved, plus the rest. */
function realOf(path: string): string {
  const abs = resolve(path);
  let head = abs;
  const rest: string[] = [];
  while (lstatOrUndefined(head) === undefined && dirname(head) !== head) {
    rest.unshift(basename(head));
    head = dirname(head);
  }
  try {
    return join(realpathSync(head), ...rest);
  } catch {
    return abs; // a dangling link or a file in the middle: the checks below name the problem
  }
}

function isInside(child: string, parent: string): string | undefined {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) ? rel : undefined;
}

/**
 * Create `dir` and its parents, one by one (Node's recursive mkdir spins forever under /proc);
 * the error names the part that is in the way.
 */
export function makeFolder(dir: string, label: string): void {
  let head = resolve(dir);
  const missing: string[] = [];
  while (lstatOrUndefined(head) === undefined && dirname(head) !== head) {
    missing.unshift(head);
    head = dirname(head);
  }
  const st = lstatOrUndefined(head, true);
  if (st !== undefined && !st.isDirectory()) throw new UsageError(`${label}: ${head} is ${kindOf(st)}, not a folder; choose another path`);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const mapped = environmentError(e, d, 'create the folder');
      if (mapped !== e) throw mapped;
      throw new UsageError(`${label}: cannot create the folder ${d} (${(e as NodeJS.ErrnoException).code}); choose a folder on a writable disk`);
    }
  }
}

/** Prove that files can be created in `dir` (as root, access() says yes to an immutable or /proc folder). */
function probeFolder(dir: string): void {
  const probe = join(dir, `.ctc-probe-${process.pid}`);
  try {
    accessSync(dir, constants.W_OK);
    writeFileSync(probe, '', { flag: 'wx' });
    rmSync(probe);
  } catch (e) {
    rmSync(probe, { force: true });
    const mapped = environmentError(e, dir, 'create files in');
    if (mapped !== e) throw mapped;
    throw new UsageError(`${dir}: cannot create files in it (${(e as NodeJS.ErrnoException).code}); choose a folder you may write to`);
  }
}

function freeBytes(dir: string): number {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return Infinity; // no statfs here: the writes themselves will say
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Create the staging folder with O_EXCL semantics (mkdir fails if it exists). A folder left by
 * a compile that crashed on this host (its process is gone) is removed and taken over.
 */
function acquireStaging(staging: string, outDir: string): void {
  for (let attempt = 0; ; attempt++) {
    let made = false;
    try {
      mkdirSync(staging);
      made = true;
      writeFileSync(join(staging, OWNER), `${process.pid} ${hostname()}\n`);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (made) rmSync(staging, { recursive: true, force: true }); // never leave a lock without its owner
      if (made || code !== 'EEXIST') {
        const mapped = environmentError(e, staging, 'create the staging folder');
        throw mapped !== e ? mapped : new UsageError(`-o ${outDir}: cannot create the staging folder ${staging} (${code}); choose a folder on a writable disk`);
      }
    }
    let owner: [string, string] | undefined;
    try {
      const [pid, host] = readFileSync(join(staging, OWNER), 'utf8').trim().split(' ');
      owner = [pid ?? '', host ?? ''];
    } catch {
      owner = undefined;
    }
    const crashed = owner !== undefined && owner[1] === hostname() && /^\d+$/.test(owner[0]) && !alive(Number(owner[0]));
    if (!crashed || attempt > 0) {
      throw new UsageError(
        `${outDir}: another ctc compile${owner ? ` (process ${owner[0]} on ${owner[1]})` : ''} is writing this output folder: its staging folder ${staging} exists. ` +
          `Wait for it to finish, choose another -o folder, or remove ${staging} if no compile is running`,
      );
    }
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The path options themselves, before anything is read. */
export function checkPathOptions(outDir: string, saveStats: string | undefined): void {
  if (outDir.trim() === '') throw new UsageError('-o "": name an output folder (or leave -o out for the default, <model folder>-<rules>)');
  if (saveStats !== undefined && saveStats.trim() === '') throw new UsageError('--save-stats "": name the file to write the statistics to');
}

export function planWrites(req: WriteRequest): WritePlan {
  const outDir = req.outDir;
  checkPathOptions(outDir, req.saveStats);

  // The inputs, by (device, inode): a hard link or a second name of one is the same file.
  const inputs = new Map<string, PlannedRead>();
  for (const r of req.reads) {
    const st = lstatOrUndefined(r.path, true);
    if (st !== undefined && !inputs.has(identity(st))) inputs.set(identity(st), r);
  }

  /** A file ctc writes: a new path, or an existing regular file that is no input. */
  const checkTarget = (path: string, label: string, existing: 'replace' | 'needs --force'): void => {
    const lst = lstatOrUndefined(path);
    if (lst === undefined) return;
    const st = lst.isSymbolicLink() ? lstatOrUndefined(path, true) : lst;
    const input = st === undefined ? undefined : inputs.get(identity(st));
    if (input !== undefined) {
      const how = lst.isSymbolicLink() ? `, through the symbolic link ${path}` : resolve(input.path) !== resolve(path) && realOf(input.path) !== realOf(path) ? ', by hard link' : '';
      throw new UsageError(`${label} would overwrite ${input.what} ${input.path} (the same file${how}); ctc never writes over an input, not even with --force: choose another path`);
    }
    if (lst.isSymbolicLink()) {
      throw new UsageError(`${label} is a symbolic link (to ${readlinkSync(path)}); ctc writes only regular files and new paths: remove the link or choose another path`);
    }
    if (!lst.isFile()) throw new UsageError(`${label} is ${kindOf(lst)}, not a regular file; ctc writes only regular files and new paths: choose another path`);
    if (existing === 'needs --force' && !req.force) throw new UsageError(`${outDir} already holds a ${relative(outDir, path)}; choose another -o folder or pass --force to replace it`);
  };

  // The output folder: an existing folder (or a link to one), or a new path.
  const outReal = realOf(outDir);
  const outStat = lstatOrUndefined(outDir, true);
  if (outStat !== undefined && !outStat.isDirectory()) {
    const input = inputs.get(identity(outStat));
    throw new UsageError(`-o ${outDir}: exists and is ${input ? `${input.what}, ` : ''}not a folder; choose another -o folder`);
  }
  const isNew = outStat === undefined;

  // --save-stats inside OUTDIR is written with the outputs; elsewhere, directly.
  const statsInOut = req.saveStats === undefined ? undefined : isInside(realOf(req.saveStats), outReal);
  const outFiles = [...req.outFiles, ...(statsInOut !== undefined ? [statsInOut] : [])];

  // No two writes to one file.
  const targets = new Map<string, string>();
  const claim = (path: string, label: string): void => {
    const real = realOf(path).toLowerCase(); // a case-insensitive disk makes these one file
    const other = targets.get(real);
    if (other !== undefined) throw new UsageError(`${label} is also ${other}; ctc would write both to one file: choose another path`);
    targets.set(real, label);
  };
  for (const f of req.outFiles) claim(join(outDir, f), `the output file ${join(outDir, f)}`);
  if (req.saveStats !== undefined) claim(req.saveStats, `--save-stats ${req.saveStats}`);

  for (const f of outFiles) {
    const label = f === statsInOut ? `--save-stats ${req.saveStats}` : `-o ${outDir}: ${join(outDir, f)}`;
    checkTarget(join(outDir, f), label, f === statsInOut ? 'replace' : 'needs --force');
  }
  if (req.saveStats !== undefined && statsInOut === undefined) {
    checkTarget(req.saveStats, `--save-stats ${req.saveStats}`, 'replace');
    makeFolder(dirname(resolve(req.saveStats)), `--save-stats ${req.saveStats}`);
    probeFolder(dirname(resolve(req.saveStats)));
  }

  // The staging folder: inside an existing OUTDIR (so that moving out of it never crosses a
  // file system), beside a new one (so that one rename creates OUTDIR whole).
  if (isNew) makeFolder(dirname(resolve(outDir)), `-o ${outDir}`);
  const staging = isNew ? join(dirname(resolve(outDir)), `.${basename(resolve(outDir))}.ctc-staging`) : join(outDir, '.ctc-staging');
  acquireStaging(staging, outDir);
  const free = freeBytes(staging);
  if (req.needBytes !== undefined && free < req.needBytes) {
    rmSync(staging, { recursive: true, force: true });
    const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
    throw new EnvironmentError(
      `-o ${outDir}: the output needs about ${mib(req.needBytes)}, and only ${mib(free)} are free there; free some space or write to another disk with -o${req.spaceHint ? ` (${req.spaceHint})` : ''}`,
    );
  }

  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(staging, { recursive: true, force: true });
  };
  // A signal would end the process with the staging folder left behind: remove it, then die of
  // the same signal as the default handler would have (unless someone else listens too).
  function onSignal(signal: NodeJS.Signals): void {
    release();
    req.warn(`interrupted by ${signal}: removed the unfinished output ${staging}; nothing was written to ${outDir}`);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const commit = (): string[] => {
    rmSync(join(staging, OWNER));
    const produced = outFiles.filter((f) => lstatOrUndefined(join(staging, f)) !== undefined);
    if (isNew) {
      try {
        renameSync(staging, outDir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY') throw new UsageError(`${outDir} was created by another process while this compile ran; nothing was written to it`);
        throw environmentError(e, outDir, 'create the output folder');
      }
    } else {
      // Check again under the lock: a file may have appeared since the plan was made.
      for (const f of outFiles) checkTarget(join(outDir, f), `-o ${outDir}: ${join(outDir, f)}`, f === statsInOut ? 'replace' : 'needs --force');
      for (const f of outFiles) {
        const to = join(outDir, f);
        try {
          if (produced.includes(f)) {
            makeFolder(dirname(to), `-o ${outDir}`);
            renameSync(join(staging, f), to);
          } else rmSync(to, { force: true }); // stale: an earlier output's file this one does not have
        } catch (e) {
          throw environmentError(e, to, 'write');
        }
      }
      rmSync(staging, { recursive: true, force: true });
    }
    done = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return produced.sort();
  };

  return { outDir, staging, saveStats: statsInOut === undefined ? req.saveStats : join(staging, statsInOut), commit, release };
}
