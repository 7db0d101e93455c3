/**
 * Once per test run, before any test:
 *
 *   corpus/onnx-node-tests.tar.gz ─ untar (when .cache/node is missing or short) ─▶ .cache/node/
 *   corpus/zoo.tar.xz ─ untar (when .cache/zoo is missing or older than the archive) ─▶ .cache/zoo/
 *   src/, passes/ newer than dist/ ─ npm run build's steps ─▶ dist/ctc.js (the CLI the CLI tests spawn)
 *   TMPDIR ─▶ a folder of the run's own, removed at its end
 *
 * `npm test` compiles first, so dist/ is fresh and nothing is built here; a bare `npx vitest
 * run` after an edit (or under a mutation tester that rewrites sources) rebuilds, so the CLI
 * tests never run a stale CLI.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** The newest modification time of the files under `dir`, recursively (0 when there is none). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function unpackNodeTests(): void {
  const cache = join(ROOT, '.cache');
  const node = join(cache, 'node');
  if (!existsSync(node) || readdirSync(node).length < 1858) {
    mkdirSync(cache, { recursive: true });
    execFileSync('tar', ['-xzf', join(ROOT, 'corpus', 'onnx-node-tests.tar.gz'), '-C', cache]);
  }
}

/** The export zoo; unpacked afresh whenever the archive is newer than the unpacked copy. */
function unpackZoo(): void {
  const cache = join(ROOT, '.cache');
  const zoo = join(cache, 'zoo');
  const archive = join(ROOT, 'corpus', 'zoo.tar.xz');
  const stamp = join(zoo, 'results.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(archive).mtimeMs) return;
  rmSync(zoo, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  execFileSync('tar', ['-xJf', archive, '-C', cache]);
  // tar restores the archive's fixed mtime (1970): stamp the copy with the time it was unpacked.
  const now = new Date();
  utimesSync(stamp, now, now);
}

function buildCli(): void {
  const cli = join(ROOT, 'dist', 'ctc.js');
  const built = existsSync(cli) ? statSync(cli).mtimeMs : 0;
  const sources = Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'passes')), statSync(join(ROOT, 'tsconfig.json')).mtimeMs);
  if (built >= sources) return;
  // A type error stops the run here, as it stops `npm test`.
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'rolldown', 'bin', 'cli.mjs'), '--config', join(ROOT, 'rolldown.config.mjs'), '--logLevel', 'warn'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * One temporary folder for the whole run, removed when it ends: the tests' mkdtemp folders (and
 * the CLI processes they start) go under it through TMPDIR, which the workers inherit, so a run
 * leaves nothing behind in the system's temporary folder (they once piled up to 70 GB there).
 */
function runTemporaryFolder(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'ctc-test-run-'));
  process.env['TMPDIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}

export default function setup(): () => void {
  unpackNodeTests();
  unpackZoo();
  buildCli();
  return runTemporaryFolder();
}
