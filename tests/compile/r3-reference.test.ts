/**
 * The R3 rotation reproduces PyTorch: each KV-cache rule set with SpinQuant R3 added
 * (transform_config as rules/int4-kv-r3.json carries it), compiled with --calib-sets 0-7 and
 * evaluated on sets 8-15, gives the perplexity that compressed-tensors' semantics with the same
 * rotation gave in PyTorch (corpus/reference_r3.json) within 0.2 %, on the TorchScript Llama, the
 * dynamo (ONNX Attention op) Llama and GPT-2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { evaluateMany } from '../../src/eval/evaluate.js';
import type { EvalReport } from '../../src/eval/evaluate.js';
import { builtinRuleFile } from '../../src/rules/load.js';
import { CORPUS, corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

interface Reference {
  models: { model: string; fp32: number; rows: Record<string, number> }[];
}
const table = JSON.parse(readFileSync(join(CORPUS, 'reference_r3.json'), 'utf8')) as Reference;
const MODELS: Record<string, string> = {
  'llama-gqa-bytes-ts-eager': 'llama-gqa-bytes',
  'llama-gqa-bytes-dynamo-op23': 'llama-gqa-bytes',
  'gpt2-bytes-ts-eager': 'gpt2-bytes',
};
const out = mkdtempSync(join(tmpdir(), 'ctc-r3-reference-'));
const r3 = (JSON.parse(readFileSync(builtinRuleFile('int4-kv-r3'), 'utf8')) as { transform_config: unknown }).transform_config;

describe('R3 + KV-cache quantization: perplexity within 0.2 % of PyTorch', () => {
  for (const [model, key] of Object.entries(MODELS)) {
    const ref = table.models.find((m) => m.model === key)!;
    const rows = Object.keys(ref.rows);
    describe(model, () => {
      const reports = new Map<string, EvalReport>();
      // Every row's rule set compiled, then all evaluated in one pass over sets 8-15 (evaluateMany:
      // the float model runs once per set; each report is the one `evaluate` gives that model alone).
      beforeAll(async () => {
        for (const row of rows) {
          const base = row.replace(/^r3\+/, '');
          const rules = join(out, `${model}-${base}-r3.json`);
          writeFileSync(rules, JSON.stringify({ ...JSON.parse(readFileSync(builtinRuleFile(base), 'utf8')), transform_config: r3 }));
          await compile({ model: corpusModel(model), rules, outDir: join(out, `${model}-${row}`), calibSets: '0-7', ...quiet });
        }
        const all = await evaluateMany({ reference: corpusModel(model), candidates: rows.map((row) => join(out, `${model}-${row}`, 'model.onnx')), sets: '8-15', ...quiet });
        all.forEach((r, i) => reports.set(rows[i]!, r));
      });

      for (const [row, want] of Object.entries(ref.rows)) {
        it(`${model} × ${row}`, () => {
          const r = reports.get(row)!;
          expect(Math.abs(r.perplexity!.reference / ref.fp32 - 1)).toBeLessThan(2e-5);
          expect(Math.abs(r.perplexity!.candidate / want - 1), `candidate ${r.perplexity!.candidate} vs PyTorch ${want}`).toBeLessThanOrEqual(0.002);
        });
      }
    });
  }
});
