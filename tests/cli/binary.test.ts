/**
 * The built binary, `node dist/ctc.js` (tsc's output bundled into one file), against the
 * in-process main() the other CLI tests drive: every command, run both ways, gives the same exit
 * status and the same output, and a compile writes the same bytes. So what the in-process tests show holds for the real program
 * (nothing it prints bypasses the output sink; its exit status is main()'s return value).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ctc, ctcProcess } from '../harness/cli.js';
import type { CliResult } from '../harness/cli.js';
import { CLI, corpusModel } from '../harness/paths.js';

const GPT2 = corpusModel('gpt2-bytes-ts-eager');
const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');

/**
 * Run `args` both ways; `args` may name the output folder as OUT, a different one for each way.
 * The results come back with their folder written OUT again, and the calibration time (the one
 * thing that differs from run to run) as T.
 */
async function bothWays(dir: string, ...args: string[]): Promise<{ binary: CliResult; inProcess: CliResult }> {
  const binary = ctcProcess(...args.map((a) => a.replaceAll('OUT', join(dir, 'binary'))));
  const inProcess = await ctc(...args.map((a) => a.replaceAll('OUT', join(dir, 'in-process'))));
  const normal = (text: string, name: string): string => text.replaceAll(join(dir, name), 'OUT').replace(/(calibration: \d+ set\(s\) in) [\d.]+ s/, '$1 T s');
  const same = (r: CliResult, name: string): CliResult => ({ ...r, stdout: normal(r.stdout, name), stderr: normal(r.stderr, name) });
  return { binary: same(binary, 'binary'), inProcess: same(inProcess, 'in-process') };
}

describe('the binary and main() agree, command by command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctc-binary-'));

  it.each([
    [['--help'], 0],
    [['--version'], 0],
    [[], 1],
    [['inpsect', GPT2], 1],
    [['rules'], 0],
    [['rules', 'fp8-kv-head', '--print-config'], 0],
    [['inspect', LLAMA, '--explain'], 0],
    [['inspect', join(dir, 'missing.onnx')], 1],
    [['eval', GPT2, GPT2, '--sets', '3-1'], 1],
  ])('ctc %j: exit %i', async (args, code) => {
    const { binary, inProcess } = await bothWays(dir, ...args);
    expect(binary.code, binary.stderr).toBe(code);
    expect(inProcess).toEqual(binary);
    expect(binary.stdout.length + binary.stderr.length).toBeGreaterThan(0);
  });

  it('a reader that closes the pipe first (ctc rules | true): exit 0 and nothing on stderr, not a crash on EPIPE', () => {
    // `true` exits at once without reading, long before node has started and prints: every write finds the pipe closed.
    const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$1" rules | true', process.execPath, CLI], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  describe('compile, eval and report', () => {
    let compiled: { binary: CliResult; inProcess: CliResult };
    beforeAll(async () => {
      compiled = await bothWays(dir, 'compile', GPT2, '--rules', 'int8-head', '--calib-sets', '0', '-o', 'OUT', '-q');
    });

    it('compile: exit 0, the same summary, byte-identical files', () => {
      expect(compiled.binary.code, compiled.binary.stderr).toBe(0);
      expect(compiled.inProcess).toEqual(compiled.binary);
      expect(compiled.binary.stdout).toMatch(/rules int8-head: 4 of 4 attention site\(s\) quantized/);
      for (const f of ['model.onnx', 'quantization_config.json', 'scales.json', 'compile.json']) {
        expect(readFileSync(join(dir, 'binary', f)).equals(readFileSync(join(dir, 'in-process', f))), f).toBe(true);
      }
    });

    it('eval: exit 0, the same report', async () => {
      const { binary, inProcess } = await bothWays(dir, 'eval', GPT2, join('OUT', 'model.onnx'), '--sets', '8', '--json');
      expect(binary.code, binary.stderr).toBe(0);
      expect(inProcess).toEqual(binary);
      expect(JSON.parse(binary.stdout).sets).toBe(1);
    });

    it('report: exit 0, the same page', async () => {
      const { binary, inProcess } = await bothWays(dir, 'report', 'OUT');
      expect(binary.code, binary.stderr).toBe(0);
      expect(inProcess).toEqual(binary);
      expect(readFileSync(join(dir, 'binary', 'report.html'), 'utf8').replaceAll(join(dir, 'binary'), 'OUT')).toBe(readFileSync(join(dir, 'in-process', 'report.html'), 'utf8').replaceAll(join(dir, 'in-process'), 'OUT'));
    });
  });
});
