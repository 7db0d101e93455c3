/**
 * --stats files are checked before use: format version, every key and type, one finite number
 * per head, min ≤ max, one entry per edge, edges that match the rule set. Each message names the
 * file and the JSON path of the bad value. The statistics come from a real --save-stats run and
 * are damaged one field at a time.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkStats } from '../../src/calibrate/stats.js';
import { CalibrationError } from '../../src/errors.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const dir = mkdtempSync(join(tmpdir(), 'ctc-stats-'));
const good = join(dir, 'good.json');
/** A parsed statistics file, damaged freely by the cases below. */
type Doc = any;
let original: Doc;

beforeAll(async () => {
  const r = await ctc('compile', LLAMA, '--rules', 'fp8-kv-head', '--calib-sets', '0-1', '-o', join(dir, 'first'), '-q', '--save-stats', good);
  expect(r.code, r.stderr).toBe(0);
  original = JSON.parse(readFileSync(good, 'utf8'));
});

/** The message checkStats gives for the saved statistics after `damage`. */
function problem(damage: (d: Doc) => void): string {
  const d = structuredClone(original);
  damage(d);
  try {
    checkStats(d, 'stats.json');
  } catch (e) {
    expect(e).toBeInstanceOf(CalibrationError);
    return (e as Error).message;
  }
  throw new Error('the damaged statistics were accepted');
}

/** Compile from `text` as a statistics file: exit 1, nothing written; returns stderr. */
async function compileRefused(text: string, rules = 'fp8-kv-head'): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'ctc-stats-')), 'stats.json');
  writeFileSync(file, text);
  const out = join(dir, `o-${Math.random().toString(36).slice(2)}`);
  const r = await ctc('compile', LLAMA, '--rules', rules, '--stats', file, '-o', out);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(existsSync(out)).toBe(false);
  return r.stderr;
}

describe('statistics files', () => {
  it('the saved file itself is accepted (8 edges of 2 heads, 2 batches)', () => {
    const s = checkStats(structuredClone(original), 'stats.json');
    expect(s.edges.length).toBe(8);
    expect(s.batches.map((b) => b.set)).toEqual(['test_data_set_0', 'test_data_set_1']);
  });

  it.each<[string, (d: Doc) => void, RegExp]>([
    ['a format from elsewhere', (d) => (d.format = 'ctc-stats/2'), /^stats\.json: format: "ctc-stats\/2" is not a format this ctc reads \(ctc-stats\/1\)/],
    ['no format', (d) => delete d.format, /^stats\.json: format: missing: not a ctc statistics file/],
    ['a model that is no hash', (d) => (d.model = 'abc'), /^stats\.json: model: expected the sha256 of the model file/],
    ['edges missing', (d) => delete d.edges, /^stats\.json: edges: expected an array, found nothing \(the key is missing\)/],
    ['edges empty', (d) => (d.edges = []), /^stats\.json: edges: is empty/],
    ['an edge of another role', (d) => (d.edges[1].role = 'o'), /^stats\.json: edges\[1\]\.role: expected "q", "k" or "v", found "o"/],
    ['a head count of 0', (d) => (d.edges[2].heads = 0), /^stats\.json: edges\[2\]\.heads: expected a head count \(a whole number ≥ 1\), found number 0/],
    ['a head count as text', (d) => (d.edges[2].heads = '2'), /^stats\.json: edges\[2\]\.heads: expected a head count .*found string "2"/],
    ['a site that is a number', (d) => (d.edges[0].site = 7), /^stats\.json: edges\[0\]\.site: expected a string, found number 7/],
    ['batches an object', (d) => (d.batches = {}), /^stats\.json: batches: expected an array, found an object/],
    ['batches empty', (d) => (d.batches = []), /^stats\.json: batches: is empty: no data set was observed/],
    ['a batch without set', (d) => delete d.batches[1].set, /^stats\.json: batches\[1\]\.set: expected a string, found nothing/],
    ['a batch with an edge too few', (d) => d.batches[1].edges.pop(), /^stats\.json: batches\[1\]\.edges: has 7 entries, but the file lists 8 edges: one per edge/],
    ['a max that is text', (d) => (d.batches[1].edges[3].max[1] = 'big'), /^stats\.json: batches\[1\]\.edges\[3\]\.max\[1\]: expected a number, found string "big"/],
    ['a max that is null', (d) => (d.batches[0].edges[2].max[0] = null), /^stats\.json: batches\[0\]\.edges\[2\]\.max\[0\]: expected a number, found null/],
    ['an infinite min', (d) => (d.batches[1].edges[5].min[0] = -Infinity), /^stats\.json: batches\[1\]\.edges\[5\]\.min\[0\]: -Infinity is not a finite number/],
    ['a head too many', (d) => d.batches[0].edges[4].min.push(0), /^stats\.json: batches\[0\]\.edges\[4\]\.min: has 3 value\(s\), but the edge has 2 head\(s\): one per head/],
    ['min above max', (d) => (d.batches[1].edges[6].min[1] = d.batches[1].edges[6].max[1] + 1), /^stats\.json: batches\[1\]\.edges\[6\]\.min\[1\]: \S+ is above max\[1\] = \S+: a minimum cannot exceed its maximum/],
    ['mseMin without mseMax', (d) => (d.batches[0].edges[0].mseMin = [0, 0]), /^stats\.json: batches\[0\]\.edges\[0\]\.mseMax: expected an array, found nothing/],
  ])('refuses %s, naming the JSON path', (_what, damage, message) => {
    expect(problem(damage)).toMatch(message);
  });

  it('from the command line: garbage, a wrong type, a missing key, 1e999 (Infinity in JSON), each exit 1 naming the file and path', async () => {
    expect(await compileRefused('{"format": "ctc-stats/1", "edges": [')).toMatch(/stats\.json: not a statistics file, not even JSON \(.*\); give a file written by --save-stats/);
    expect(await compileRefused('[1, 2, 3]')).toMatch(/stats\.json: \(top level\): expected an object, found an array/);
    const text = readFileSync(good, 'utf8');
    expect(await compileRefused(text.replace('"batches"', '"batchez"'))).toMatch(/stats\.json: batches: expected an array, found nothing \(the key is missing\)/);
    const inf = structuredClone(original);
    inf.batches[1].edges[2].max[1] = 12345.5;
    expect(await compileRefused(JSON.stringify(inf).replace('12345.5', '1e999'))).toMatch(/stats\.json: batches\[1\]\.edges\[2\]\.max\[1\]: Infinity is not a finite number/);
  });

  it('edges of another rule set name the first edge that differs', async () => {
    expect(await compileRefused(readFileSync(good, 'utf8'), 'fp8-head')).toMatch(/stats\.json: edges\[0\]: these statistics cover other edges than rule set "fp8-head" quantizes on .*: found model\.model\.layers\.0\.self_attn k \(2 heads\) where model\.model\.layers\.0\.self_attn q \(6 heads\) is quantized \(8 edges in the file, 12 to quantize\)/);
  });

  it('finite but all-but-zero statistics (a subnormal scale) are refused naming the edge', async () => {
    const tiny = structuredClone(original);
    for (const b of tiny.batches) for (const e of b.edges) e.max = e.max.map(() => 1e-40);
    for (const b of tiny.batches) for (const e of b.edges) e.min = e.min.map(() => -1e-40);
    expect(await compileRefused(JSON.stringify(tiny))).toMatch(/edge model\.model\.layers\.0\.self_attn\.k_scale \(head 0\) of \S+: the scale would be \S+, which is subnormal in float32/);
  });
});
