/**
 * Numeric and range options are checked as text before any work: each bad value is exit 1 with
 * a message that names the option, what it got and what it takes. The parsers are tested value
 * by value; one CLI run per option shows the user's path (exit 1, nothing written).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { findDataSets, parseSetRange } from '../../src/calibrate/data.js';
import { parseCalibRandom, parseDims, parseThreads } from '../../src/cli/options.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { usageMessage } from '../harness/usage.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');

/** Runs compile with `args` into a fresh folder; expects exit 1, nothing written, and returns stderr. */
async function refused(...args: string[]): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'ctc-options-')), 'o');
  const r = await ctc('compile', LLAMA, '--rules', 'fp8-head', '-o', out, ...args);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(existsSync(out)).toBe(false);
  return r.stderr;
}

describe('--calib-random N', () => {
  it.each(['0', '-1', 'abc', '1.5', '', ' ', '1e3', '0x10', '2147483648', '99999999999999999999'])('refuses %j', (n) => {
    expect(usageMessage(() => parseCalibRandom(n))).toMatch(/^--calib-random .*: the number of random input sets must be a whole number from 1 to 2147483647$/);
  });
  it('takes whole numbers from 1', () => {
    expect([parseCalibRandom('1'), parseCalibRandom('+8'), parseCalibRandom(' 2147483647 ')]).toEqual([1, 8, 2147483647]);
    expect(usageMessage(() => parseCalibRandom(['2', '3']))).toBe('--calib-random is given 2 times (2, 3): give it once');
  });
  it('from the command line: exit 1 before anything is read or written; conflicts named', async () => {
    expect(await refused('--calib-random', 'abc')).toMatch(/--calib-random abc: the number of random input sets must be a whole number from 1/);
    expect(await refused('--calib-random', '2', '--calib-sets', '0-1', '--dim', 'batch=1')).toMatch(/--calib-random draws random inputs: it cannot be combined with --calib or --calib-sets/);
    expect(await refused('--calib-sets', '0', '--dim', 'batch=1')).toMatch(/--dim sizes the random inputs of --calib-random.*drop --dim/);
  });
});

describe('--threads N', () => {
  it.each(['0', '-2', '1025', '1.5', 'many', '', '4,4'])('refuses %j', (n) => {
    expect(usageMessage(() => parseThreads(n))).toMatch(/^--threads .*: the number of onnxruntime threads must be a whole number from 1 to 1024$/);
  });
  it('takes 1..1024', () => {
    expect([parseThreads('1'), parseThreads('1024'), parseThreads('3')]).toEqual([1, 1024, 3]);
  });
  it('from the command line', async () => {
    expect(await refused('--calib-sets', '0', '--threads', '0')).toMatch(/--threads 0: the number of onnxruntime threads must be a whole number from 1 to 1024/);
  });
  it('ctc eval takes it too: 0 refused before anything runs, 1 runs', async () => {
    const bad = await ctc('eval', LLAMA, LLAMA, '--sets', '8', '--threads', '0');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ctc: --threads 0: the number of onnxruntime threads must be a whole number from 1 to 1024/);
    const one = await ctc('eval', LLAMA, LLAMA, '--sets', '8', '--threads', '1', '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ sets: 1, kl: 0, top1Agreement: 1 });
  });
});

describe('--dim NAME=N', () => {
  it.each([
    ['batch=0', /^--dim batch=0: a dimension size must be a whole number from 1 to 9007199254740991$/],
    ['batch=-1', /^--dim batch=-1: a dimension size must be a whole number/],
    ['batch=two', /^--dim batch=two: a dimension size must be a whole number/],
    ['batch=1.5', /^--dim batch=1.5: a dimension size must be a whole number/],
    ['batch=', /^--dim batch=: a dimension size must be a whole number/],
    ['batch=99999999999999999999', /^--dim batch=99999999999999999999: a dimension size must be a whole number/],
    ['batch', /^--dim batch: write NAME=N, e.g. --dim batch=1$/],
    ['=3', /^--dim =3: write NAME=N/],
  ])('refuses %s', (d, message) => {
    expect(usageMessage(() => parseDims([d]))).toMatch(message);
  });
  it('a name twice: refused with different sizes, accepted with the same size', () => {
    expect(usageMessage(() => parseDims(['seq=4', 'batch=1', 'seq=5']))).toBe('--dim seq is given twice with different sizes (4 and 5): give it once');
    expect([...parseDims(['seq=4', 'batch=1', 'seq=4'])]).toEqual([['seq', 4], ['batch', 1]]);
  });
  it('from the command line', async () => {
    expect(await refused('--calib-random', '1', '--dim', 'batch=0')).toMatch(/--dim batch=0: a dimension size must be a whole number from 1/);
  });
});

describe('--calib-sets / --sets ranges', () => {
  it.each([
    ['1-', /^--calib-sets 1-: "1-" is not a set number or range; write e.g. 0-7, 3 or 0-3,8$/],
    ['-3', /"-3" is not a set number or range/],
    ['a', /"a" is not a set number or range/],
    ['', /"" is not a set number or range/],
    ['0,,2', /"" is not a set number or range/],
    ['1-2-3', /"1-2-3" is not a set number or range/],
    ['7-3', /^--calib-sets 7-3: the range 7-3 runs backwards; write 3-7$/],
    ['0-99999999999999999999', /past the largest set number ctc can name/],
  ])('refuses the malformed range %j', (range, message) => {
    expect(usageMessage(() => parseSetRange(range))).toMatch(message);
  });
  it('a huge range is two numbers, not a hundred million', () => {
    const r = parseSetRange('0-100000000, 7');
    expect(r.intervals).toEqual([[0, 100000000], [7, 7]]);
    expect([r.has(0), r.has(100000000), r.has(100000001)]).toEqual([true, true, false]);
    expect(usageMessage(() => findDataSets(LLAMA, [], '3,9007199254740990-9007199254740991'))).toMatch(/^sets 9007199254740990-9007199254740991 are not in .* \(it has sets 0-15\)/);
    expect(usageMessage(() => findDataSets(LLAMA, [], '2,14-17,20'))).toMatch(/^sets 16-17, 20 are not in/);
    expect(findDataSets(LLAMA, [], '14-15,0').map((d) => basename(d))).toEqual(['test_data_set_0', 'test_data_set_14', 'test_data_set_15']);
  });
  it('from the command line a huge range fails fast, naming the sets that exist', async () => {
    const t0 = performance.now();
    const msg = await refused('--calib-sets', '0-100000000');
    // Enumerating a hundred million numbers took over a minute; an interval takes nothing.
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(msg).toMatch(/sets 16-100000000 are not in .*llama-gqa-bytes-ts-eager \(it has sets 0-15\); choose among those/);
    const r = await ctc('eval', LLAMA, LLAMA, '--sets', '3-1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--sets 3-1: the range 3-1 runs backwards/);
  });
});
