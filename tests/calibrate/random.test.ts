/**
 * --calib-random on any transformer export: every corpus model compiles; token ids stay below
 * the rows of every embedding they index (read here from the model's own initializers), masks
 * are ones, position ids follow the past length, caches are in [-1, 1); values are seeded. Every
 * size problem (missing, unknown, huge or inconsistent --dim) is one message before any work.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomSets } from '../../src/calibrate/random.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { usageMessage } from '../harness/usage.js';

const LM_DIMS = ['--dim', 'batch=2', '--dim', 'seq=5', '--dim', 'total_seq=8', '--dim', 'past_seq=3'];
const dims = (...kv: [string, number][]): Map<string, number> => new Map(kv);
const LM = dims(['batch', 2], ['seq', 5], ['total_seq', 8], ['past_seq', 3]);

const rowsOf = (m: Model, initializer: string): number => m.graph.initializers.find((v) => v.name === initializer)!.initializer!.dims[0]!;
const values = (t: Tensor): number[] => t.toNumbers();

describe('--calib-random compiles every corpus model', () => {
  const runs: [string, string, string[]][] = [
    ['bert-random-ts-eager', 'fp8-head', ['--dim', 'batch=2', '--dim', 'seq=6']],
    ['gpt2-bytes-ts-eager', 'fp8-head', LM_DIMS],
    ['llama-gqa-bytes-ts-eager', 'fp8-head', LM_DIMS],
    ['qwen2-random-ts-eager', 'int4-kv-head', LM_DIMS],
    // the dynamo export names every axis apart: batch s25/s43, new tokens s70, mask s53, one past length per cache
    ['llama-gqa-bytes-dynamo-op23', 'fp8-head', ['s25=1', 's43=1', 's70=5', 's53=8', ...['s69', 's89', 's15', 's81', 's90', 's8', 's92', 's68'].map((s) => `${s}=3`)].flatMap((d) => ['--dim', d])],
  ];
  it.each(runs)('%s (%s)', async (name, rules, dimArgs) => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-random-')), 'o');
    const r = await ctc('compile', corpusModel(name), '--rules', rules, '--calib-random', '2', ...dimArgs, '-o', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  });
});

describe('values the model accepts', () => {
  it('BERT: input ids below the word rows, token_type_ids below the token-type rows, the mask all ones', () => {
    const m = loadModel(corpusModel('bert-random-ts-eager'));
    const feeds = randomSets(m, 1, dims(['batch', 2], ['seq', 64]))[0]!.load();
    const ids = values(feeds.get('input_ids')!);
    const types = values(feeds.get('token_type_ids')!);
    expect(ids.length).toBe(128);
    expect(Math.max(...ids)).toBeLessThan(rowsOf(m, 'm.embeddings.word_embeddings.weight'));
    expect(new Set(ids).size).toBeGreaterThan(20);
    expect(rowsOf(m, 'm.embeddings.token_type_embeddings.weight')).toBe(2);
    expect(new Set(types)).toEqual(new Set([0, 1]));
    expect(new Set(values(feeds.get('attention_mask')!))).toEqual(new Set([1]));
  });
  it('GPT-2: input ids through Reshape to the wte Gather stay below its rows; the cache is in [-1, 1)', () => {
    const m = loadModel(corpusModel('gpt2-bytes-ts-eager'));
    const feeds = randomSets(m, 1, LM)[0]!.load();
    expect(Math.max(...values(feeds.get('input_ids')!))).toBeLessThan(rowsOf(m, 'model.transformer.wte.weight'));
    const cache = Array.from(feeds.get('past_key_values.0.key')!.toFloat32());
    expect(cache.length).toBe(2 * 6 * 3 * 32);
    expect(Math.min(...cache)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...cache)).toBeLessThan(1);
  });
  it('token ids index the fewest rows of every table they feed; position ids are past + 0..S-1', () => {
    // input_ids feeds two tables (40 and 30 rows), position_ids a 16-row table; a cache of length 3
    const model = emptyModel();
    const b = new GraphBuilder(model);
    const ids = b.input('input_ids', DataType.INT64, ['batch', 'seq']);
    const pos = b.input('position_ids', DataType.INT64, ['batch', 'seq']);
    b.input('attention_mask', DataType.INT64, ['batch', 'total']);
    b.input('past_key_values.0.key', DataType.FLOAT, ['batch', 2, 'past', 4]);
    const table = (name: string, rows: number) => b.constF32(name, [rows, 4], new Array(rows * 4).fill(0.5));
    const wte = b.op(Op.Gather, [table('wte', 40), ids]);
    const other = b.op(Op.Gather, [table('tied', 30), b.op(Op.Identity, [ids])]);
    const wpe = b.op(Op.Gather, [table('positions', 16), pos]);
    b.output(b.op(Op.Add, [b.op(Op.Add, [wte, other]), wpe]), 'y');
    const sets = randomSets(model, 3, dims(['batch', 2], ['seq', 5], ['total', 8], ['past', 3]));
    const feeds = sets[0]!.load();
    const tokenValues = values(feeds.get('input_ids')!);
    expect(Math.max(...tokenValues)).toBeLessThan(30);
    expect(Math.max(...tokenValues)).toBeGreaterThanOrEqual(20);
    expect(values(feeds.get('position_ids')!)).toEqual([3, 4, 5, 6, 7, 3, 4, 5, 6, 7]);
    expect(values(feeds.get('attention_mask')!)).toEqual(new Array(16).fill(1));
    // seeded: the same set twice is the same; another set differs
    expect(values(sets[0]!.load().get('input_ids')!)).toEqual(tokenValues);
    expect(values(randomSets(model, 1, dims(['batch', 2], ['seq', 5], ['total', 8], ['past', 3]))[0]!.load().get('input_ids')!)).toEqual(tokenValues);
    expect(values(sets[1]!.load().get('input_ids')!)).not.toEqual(tokenValues);
    // positions past the 16-row table are refused
    expect(usageMessage(() => randomSets(model, 1, dims(['batch', 1], ['seq', 14], ['total', 17], ['past', 3])))).toBe(
      'position ids "position_ids" would reach 16 (past length past=3 + new tokens seq=14 = 17 positions), but the table they index has 16 rows: give --dim sizes with at most 16 tokens in all',
    );
    expect(values(randomSets(model, 1, dims(['batch', 1], ['seq', 13], ['total', 16], ['past', 3]))[0]!.load().get('position_ids')!).at(-1)).toBe(15);
  });
});

describe('sizes are checked before any work, all at once', () => {
  const llama = loadModel(corpusModel('llama-gqa-bytes-ts-eager'));
  const gpt2 = loadModel(corpusModel('gpt2-bytes-ts-eager'));
  it('every missing --dim in one message, with where each is used', () => {
    expect(usageMessage(() => randomSets(llama, 1, dims(['seq', 4])))).toMatch(
      /^--calib-random needs the size of every dynamic input dimension: give --dim batch=N --dim total_seq=N --dim past_seq=N \(batch: input_ids\[0\], attention_mask\[0\], past_key_values\.0\.key\[0\].*; total_seq: attention_mask\[1\]; past_seq: past_key_values\.0\.key\[2\]/,
    );
  });
  it('a --dim the inputs do not have', () => {
    expect(usageMessage(() => randomSets(llama, 1, new Map([...LM, ['sequence', 4]])))).toBe("--dim sequence: the model's inputs have no dynamic dimension of that name; theirs are batch, seq, total_seq, past_seq");
  });
  it('sizes that would not fit in memory are refused with the size', () => {
    expect(usageMessage(() => randomSets(llama, 1, dims(['batch', 1000], ['seq', 4], ['total_seq', 10_000_004], ['past_seq', 10_000_000])))).toMatch(
      /^the random inputs of one set would take 18\.7 TiB \(the largest, "past_key_values\.0\.key" float\[1000, 2, 10000000, 32\], 2\.3 TiB\), more than a quarter of this machine's .* of memory: give smaller --dim sizes$/,
    );
  });
  it('a mask that is not past + new tokens long; positions past the learned table; caches or batches that disagree', () => {
    expect(usageMessage(() => randomSets(llama, 1, dims(['batch', 1], ['seq', 4], ['total_seq', 4], ['past_seq', 2])))).toBe(
      'the attention mask "attention_mask" covers past and new tokens, so its length total_seq=4 must be past length past_seq=2 + new tokens seq=4 = 6: give --dim sizes that agree',
    );
    expect(usageMessage(() => randomSets(gpt2, 1, dims(['batch', 1], ['seq', 30], ['total_seq', 1030], ['past_seq', 1000])))).toBe(
      'the model learns positions in model.transformer.wpe.weight, which has 1024 rows, but past length past_seq=1000 + new tokens seq=30 = 1030 positions: give --dim sizes with at most 1024 tokens in all',
    );
    const dynamo = loadModel(corpusModel('llama-gqa-bytes-dynamo-op23'));
    const pasts = ['s69', 's89', 's15', 's81', 's90', 's8', 's92', 's68'].map((s): [string, number] => [s, s === 's15' ? 2 : 3]);
    expect(usageMessage(() => randomSets(dynamo, 1, dims(['s25', 1], ['s43', 1], ['s70', 4], ['s53', 7], ...pasts)))).toMatch(/^the past caches "past_key_values\.0\.key" and "past_key_values\.1\.key" must have one length \(axis 2\), but get s69=3 and s15=2/);
    const same = pasts.map(([s]): [string, number] => [s, 3]);
    expect(usageMessage(() => randomSets(dynamo, 1, dims(['s25', 1], ['s43', 2], ['s70', 4], ['s53', 7], ...same)))).toMatch(/^inputs "input_ids" and "attention_mask" must have one batch size, but get s25=1 and s43=2/);
  });
  it('from the command line: exit 1 naming every missing --dim, before the warning and any work', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-random-')), 'o');
    const r = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'fp8-head', '--calib-random', '2', '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--calib-random needs the size of every dynamic input dimension: give --dim batch=N --dim seq=N --dim total_seq=N --dim past_seq=N/);
    expect(r.stderr).not.toMatch(/warning/);
    expect(existsSync(out)).toBe(false);
  });
});
