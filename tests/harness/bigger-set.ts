/**
 * The suite of the README's accuracy table, run per model by tests/compile/bigger-set-*.test.ts.
 * The KV-cache rule sets on the bigger evaluation set (corpus/generators/eval-sets.ts: 80 sets,
 * 5040 predicted bytes per trained model, built here from heldout.bin by the float model):
 * compile --calib-sets 0-7, then eval on the bigger set. The figures are README's accuracy
 * table (five decimals), and what they show is asserted as such: on the Llama the R3 rule set
 * cuts the int4 cache's perplexity increase and KL to under half of int4-kv-head's, on both
 * models its KL is below int4-kv-head's, and fp8-kv-r3 is within 0.2 % of float; int4-kv-r3-centered
 * (R3 plus key centering) improves on int4-kv-r3 on both, reaches a quarter of int4-kv-head's KL
 * on the Llama and +0.5 % of float on GPT-2; the dynamic sets (per-token int4 scales computed in the
 * model) meet the whole bar: the Llama within +1.5 % of float with a quarter of int4-kv-head's KL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEvalSets } from '../../corpus/generators/eval-sets.js';
import { compile } from '../../src/compile.js';
import { evaluateMany } from '../../src/eval/evaluate.js';
import { CORPUS, corpusModel } from './paths.js';
import { quiet } from './quiet.js';

interface Row {
  readonly ppl: number;
  readonly kl: number;
}
/** README "Accuracy on the bigger evaluation set". */
export const TABLE = {
  'llama-gqa-bytes-ts-eager': {
    float: 2.78286,
    rows: {
      'int4-kv-head': { ppl: 3.15247, kl: 0.16298 },
      'int4-kv-tensor': { ppl: 3.17494, kl: 0.17492 },
      'int4-kv-r3': { ppl: 2.90472, kl: 0.05773 },
      'int4-kv-r3-centered': { ppl: 2.86002, kl: 0.03421 },
      'int4-kv-r3-dynamic': { ppl: 2.81258, kl: 0.01613 },
      'int4-kv-r3-centered-dynamic': { ppl: 2.79496, kl: 0.0082 },
      'fp8-kv-head': { ppl: 2.79258, kl: 0.00484 },
      'fp8-kv-r3': { ppl: 2.78547, kl: 0.00249 },
    },
  },
  'gpt2-bytes-ts-eager': {
    float: 2.58849,
    rows: {
      'int4-kv-head': { ppl: 2.59829, kl: 0.00904 },
      'int4-kv-tensor': { ppl: 2.61078, kl: 0.01327 },
      'int4-kv-r3': { ppl: 2.60199, kl: 0.00728 },
      'int4-kv-r3-centered': { ppl: 2.60087, kl: 0.00453 },
      'int4-kv-r3-dynamic': { ppl: 2.5939, kl: 0.00236 },
      'int4-kv-r3-centered-dynamic': { ppl: 2.59429, kl: 0.00098 },
      'fp8-kv-head': { ppl: 2.58973, kl: 0.00034 },
      'fp8-kv-r3': { ppl: 2.59009, kl: 0.00035 },
    },
  },
} as const satisfies Record<string, { float: number; rows: Record<string, Row> }>;

/** The suite of one model (a file of its own each, so that the two run side by side). */
export function describeBiggerSet(model: keyof typeof TABLE): void {
  const want: { float: number; rows: Record<string, Row> } = TABLE[model];
  describe(`${model} on the bigger evaluation set`, () => {
    const dir = mkdtempSync(join(tmpdir(), `ctc-bigger-${model}-`));
    const measured = new Map<string, Row>();
    let float = 0;

    // Every rule set compiled, then all evaluated in one pass over the sets (evaluateMany: the
    // float model runs once per set; each report is the one `ctc eval` gives that model alone).
    beforeAll(async () => {
      await buildEvalSets(corpusModel(model), join(CORPUS, 'heldout.bin'), join(dir, 'sets'));
      const names = Object.keys(want.rows);
      for (const rules of names) await compile({ model: corpusModel(model), rules, outDir: join(dir, rules), calibSets: '0-7', ...quiet });
      const reports = await evaluateMany({ reference: corpusModel(model), candidates: names.map((r) => join(dir, r, 'model.onnx')), data: [join(dir, 'sets')], ...quiet });
      reports.forEach((r, i) => {
        expect(r.tokens).toBe(5040);
        float = r.perplexity!.reference;
        measured.set(names[i]!, { ppl: r.perplexity!.candidate, kl: r.kl! });
      });
    });

    it('float perplexity as README states', () => {
      expect(Math.abs(float / want.float - 1)).toBeLessThan(2e-6);
    });

    for (const [rules, row] of Object.entries(want.rows)) {
      it(`${rules}: perplexity and KL as README states`, () => {
        const m = measured.get(rules)!;
        // README prints five decimals: the same numbers, to their last digit
        expect(Math.abs(m.ppl - row.ppl), `perplexity ${m.ppl}, KL ${m.kl}`).toBeLessThan(6e-6);
        expect(Math.abs(m.kl - row.kl), `perplexity ${m.ppl}, KL ${m.kl}`).toBeLessThan(6e-6);
      });
    }

    it('fp8-kv-r3 is within noise of float (0.2 %); int4-kv-r3 has a lower KL than int4-kv-head, int4-kv-r3-centered a lower KL and perplexity than int4-kv-r3', () => {
      const increase = (r: string): number => measured.get(r)!.ppl / float - 1;
      expect(Math.abs(measured.get('fp8-kv-r3')!.ppl / float - 1)).toBeLessThan(0.002);
      expect(measured.get('int4-kv-r3')!.kl).toBeLessThan(measured.get('int4-kv-head')!.kl);
      expect(measured.get('int4-kv-r3-centered')!.kl).toBeLessThan(measured.get('int4-kv-r3')!.kl);
      expect(increase('int4-kv-r3-centered')).toBeLessThan(increase('int4-kv-r3'));
      if (model.startsWith('llama')) {
        expect(increase('int4-kv-r3')).toBeLessThan(increase('int4-kv-head') / 2);
        expect(measured.get('int4-kv-r3')!.kl).toBeLessThan(measured.get('int4-kv-head')!.kl / 2);
        // issue 15's KL bar: at most a quarter of int4-kv-head's
        expect(measured.get('int4-kv-r3-centered')!.kl).toBeLessThan(measured.get('int4-kv-head')!.kl / 4);
        // issue 15's whole bar, met by both dynamic sets: within +1.5 % of float, KL at most a quarter of int4-kv-head's
        for (const r of ['int4-kv-r3-dynamic', 'int4-kv-r3-centered-dynamic']) {
          expect(increase(r), r).toBeLessThan(0.015);
          expect(measured.get(r)!.kl, r).toBeLessThan(measured.get('int4-kv-head')!.kl / 4);
        }
      } else {
        // issue 15's bar for GPT-2: within +0.5 % of float
        for (const r of ['int4-kv-r3-centered', 'int4-kv-r3-dynamic', 'int4-kv-r3-centered-dynamic']) expect(increase(r), r).toBeLessThan(0.005);
      }
      // dynamic per-token scales beat the calibrated per-head ones, and centering helps them too
      expect(measured.get('int4-kv-r3-dynamic')!.kl).toBeLessThan(measured.get('int4-kv-r3')!.kl);
      expect(measured.get('int4-kv-r3-centered-dynamic')!.kl).toBeLessThan(measured.get('int4-kv-r3-dynamic')!.kl);
    });
  });
}
