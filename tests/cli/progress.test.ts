/**
 * Progress: a bar on a terminal (run under `script`, which gives the command a pseudo-terminal),
 * plain lines otherwise, nothing with --quiet.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import { CLI, corpusModel } from '../harness/paths.js';

describe('progress output', () => {
  it('a bar with sets done, rate and time left on a terminal', () => {
    const d = mkdtempSync(join(tmpdir(), 'ctc-tty-'));
    const log = join(d, 'tty.log');
    const cmd = `${process.execPath} ${CLI} compile ${corpusModel('gpt2-bytes-ts-eager')} --rules fp8-head --calib-sets 0-3 -o ${join(d, 'o')}`;
    execFileSync('script', ['-qec', cmd, log], { stdio: 'ignore' });
    const screen = readFileSync(log, 'utf8');
    expect(screen).toMatch(/\rcalibrating \[#{24}\] 4\/4 sets\s+[\d.]+ sets\/s\s+\d+s left/);
    expect(screen).toMatch(/calibrating \[#{6}\.{18}\] 1\/4 sets/);
  });
  it('plain lines when not a terminal; nothing with --quiet', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ctc-tty-'));
    const plain = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'fp8-head', '--calib-sets', '0-1', '-o', join(d, 'a'));
    expect(plain.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^calibrating: 1\/2 \(test_data_set_0\) [\d.]+ sets\/s, \d+s left$/), expect.stringMatching(/^calibrating: 2\/2 \(test_data_set_1\)/)]);
    const quiet = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'fp8-head', '--calib-sets', '0-1', '-o', join(d, 'b'), '--quiet');
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
  });
});
