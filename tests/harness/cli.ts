/**
 * Run the CLI as a user would, capturing its exit code and output. Two ways:
 *
 *   ctc(...args)         in this process: main(argv) of src/cli/main.ts with writers that collect
 *                        stdout and stderr. No node start, no module or onnxruntime load per call,
 *                        and mutation testing sees the code the call runs.
 *   ctcProcess(...args)  a real `node dist/ctc.js` process (the built program): for what only a process
 *                        shows (the binary's exit status, signals, environment, resource limits,
 *                        a terminal, several compiles at once), and one smoke test per command.
 *
 * An in-process call must leave the process as it found it: the harness fails the test if a call
 * leaves a signal handler behind, sets process.exitCode, or changes the working directory.
 */
import { spawnSync } from 'node:child_process';
import { main } from '../../src/cli/main.js';
import type { Writer } from '../../src/cli/io.js';
import { CLI } from './paths.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const collector = (into: string[]): Writer => ({
  write: (text: string) => into.push(text),
});

/** What an in-process call must not change. */
function processState(): string {
  return JSON.stringify({
    cwd: process.cwd(),
    exitCode: process.exitCode,
    SIGINT: process.listenerCount('SIGINT'),
    SIGTERM: process.listenerCount('SIGTERM'),
  });
}

export async function ctc(...args: string[]): Promise<CliResult> {
  const before = processState();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(args, { stdout: collector(stdout), stderr: collector(stderr) });
  const after = processState();
  if (after !== before) throw new Error(`ctc ${args.join(' ')} changed the process: ${before} before, ${after} after`);
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

export function ctcProcess(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
