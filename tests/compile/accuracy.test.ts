/**
 * The main acceptance: for the trained corpus models and the eight rule sets,
 * `ctc compile MODEL --rules R --calib-sets 0-7` then `ctc eval MODEL OUT/model.onnx --sets 8-15`
 * gives a candidate perplexity within 0.2 % (relative) of what compressed-tensors' semantics
 * give in PyTorch (corpus/reference_table.json). And the calibrated per-head amax (scale × 448
 * for fp8) equals the table's, head by head.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { evaluateMany } from '../../src/eval/evaluate.js';
import type { EvalReport } from '../../src/eval/evaluate.js';
import { CORPUS, corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

interface TableRow {
  model: string;
  rows: Record<string, { ppl: number }>;
  amax_per_head: Record<string, number[]>;
}
const table = JSON.parse(readFileSync(join(CORPUS, 'reference_table.json'), 'utf8')) as TableRow[];
const RULES = ['fp8-head', 'fp8-tensor', 'fp8-kv-head', 'fp8-kv-tensor', 'int8-head', 'int8-tensor', 'int4-kv-head', 'int4-kv-tensor'];
const MODELS: Record<string, string> = {
  'llama-gqa-bytes-ts-eager': 'llama-gqa-bytes',
  'llama-gqa-bytes-dynamo-op23': 'llama-gqa-bytes',
  'gpt2-bytes-ts-eager': 'gpt2-bytes',
};
const out = mkdtempSync(join(tmpdir(), 'ctc-accuracy-'));

describe('accuracy matrix: perplexity within 0.2 % of compressed-tensors semantics', () => {
  for (const [model, key] of Object.entries(MODELS)) {
    const row = table.find((r) => r.model === key)!;
    describe(model, () => {
      const reports = new Map<string, EvalReport>();
      // Every rule set compiled, then all evaluated in one pass over sets 8-15 (evaluateMany: the
      // float model runs once per set; each report is the one `evaluate` gives that model alone).
      beforeAll(async () => {
        for (const rule of RULES) await compile({ model: corpusModel(model), rules: rule, outDir: join(out, `${model}-${rule}`), calibSets: '0-7', ...quiet });
        const all = await evaluateMany({ reference: corpusModel(model), candidates: RULES.map((rule) => join(out, `${model}-${rule}`, 'model.onnx')), sets: '8-15', ...quiet });
        all.forEach((r, i) => reports.set(RULES[i]!, r));
      });

      it(`${model}: float perplexity on sets 8-15 is the table's`, () => {
        expect(reports.size).toBe(RULES.length);
        for (const r of reports.values()) {
          expect(r.tokens).toBe(504);
          expect(Math.abs(r.perplexity!.reference / row.rows['fp32']!.ppl - 1)).toBeLessThan(2e-5);
        }
      });
      for (const rule of RULES) {
        it(`${model} × ${rule}`, () => {
          const r = reports.get(rule)!;
          const want = row.rows[rule]!.ppl;
          const rel = Math.abs(r.perplexity!.candidate / want - 1);
          expect(rel, `candidate ${r.perplexity!.candidate} vs table ${want}`).toBeLessThanOrEqual(0.002);
          if (rule === 'fp8-head') {
            // scale = amax / 448 per head: the calibrated amax is the table's, head by head
            const scales = JSON.parse(readFileSync(join(out, `${model}-${rule}`, 'scales.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
            const names = Object.keys(scales).filter((k) => k.endsWith('_scale')).sort();
            expect(names.length).toBe(12);
            for (const name of names) {
              const layer = Number(/\.(\d+)\.[a-z_]+\.([qkv])_scale$/.exec(name)![1]);
              const role = /([qkv])_scale$/.exec(name)![1]!;
              const amax = row.amax_per_head[`layer${layer}.${role}`]!;
              expect(scales[name]!.shape).toEqual([amax.length, 1, 1]);
              scales[name]!.values.forEach((s, h) => expect(Math.abs((s * 448) / amax[h]! - 1)).toBeLessThan(1e-6));
            }
          }
        });
      }
    });
  }
});
