/** Run the built CLI (dist/) as a user would, capturing its exit code and output. */
import { spawnSync } from 'node:child_process';
import { CLI } from './paths.js';

export function ctc(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
