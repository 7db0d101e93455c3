/**
 * evaluateMany: several candidates against one reference in one pass over the sets. Each report
 * must be exactly the one `evaluate` gives that candidate alone (nothing carried from one
 * candidate's tally to another's), whatever the order and even with a candidate given twice.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { evaluate, evaluateMany } from '../../src/eval/evaluate.js';
import type { EvalReport } from '../../src/eval/evaluate.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const MODEL = corpusModel('gpt2-bytes-ts-eager');

describe('evaluateMany', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctc-eval-many-'));
  const int8 = join(dir, 'int8', 'model.onnx');
  const int4 = join(dir, 'int4', 'model.onnx');
  let alone: EvalReport[];

  beforeAll(async () => {
    await compile({ model: MODEL, rules: 'int8-tensor', outDir: join(dir, 'int8'), calibSets: '0', ...quiet });
    await compile({ model: MODEL, rules: 'int4-kv-head', outDir: join(dir, 'int4'), calibSets: '0', ...quiet });
    alone = [await evaluate({ reference: MODEL, candidate: int8, sets: '8-10', ...quiet }), await evaluate({ reference: MODEL, candidate: int4, sets: '8-10', ...quiet })];
  });

  it('gives each candidate the report evaluate gives it alone, in the order given, a candidate twice included', async () => {
    const many = await evaluateMany({ reference: MODEL, candidates: [int4, int8, int4], sets: '8-10', ...quiet });
    expect(many).toEqual([alone[1], alone[0], alone[1]]);
    // the two candidates differ, so a report swapped or shared would show
    expect(alone[0]!.kl).not.toBe(alone[1]!.kl);
    expect(alone[0]!.perplexity!.reference).toBe(alone[1]!.perplexity!.reference);
    expect(alone[0]!.tokens).toBe(3 * 63);
  });
});
