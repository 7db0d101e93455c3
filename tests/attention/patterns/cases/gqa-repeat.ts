/** The tester cases of src/attention/patterns/gqa-repeat.ts: the grouped-query repeat of K and V. */
import { groupedQueryRepeat, repeatKv } from '../../../../src/attention/patterns/gqa-repeat.js';
import { matchPattern } from '../../../../src/pattern/match.js';
import type { DecomposedBlock } from '../../../harness/decomposed-block.js';
import { decomposedBlock } from '../../../harness/decomposed-block.js';
import type { Trial } from '../../../harness/pattern-tester.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';
import type { Pattern } from '../../../../src/pattern/dsl.js';

/** A pattern of gqa-repeat.ts tried on K as the attention reads it. */
function repeatTrial(pattern: Pattern, o: Partial<DecomposedBlock>): Trial {
  const { model, kRead } = decomposedBlock(o);
  return {
    model,
    attempt: (facts) => {
      const r = matchPattern(pattern, kRead, facts);
      return r.ok ? { ok: true, tags: Object.fromEntries(r.bindings.tags) } : r;
    },
  };
}

export const gqaRepeatCases: PatternCases = {
  file: 'gqa-repeat',
  tagged: [groupedQueryRepeat],
  valid: {
    'Unsqueeze(axis 2), Expand, Reshape (repeat_kv)': () => repeatTrial(groupedQueryRepeat, { repeat: true }),
    'the repeat after a cache Concat': () => repeatTrial(groupedQueryRepeat, { repeat: true, cache: 'input' }),
    "the repeat's Reshape merged into the 3-D transpose of K (dynamo, static shapes)": () => repeatTrial(groupedQueryRepeat, { repeat: true, mergedRepeat: true, cache: 'input', keyLayout: 'BHSD3d' }),
    'the Unsqueeze axis written as -3': () => repeatTrial(groupedQueryRepeat, { repeat: true, repeatAxis: -3 }),
    'no repeat (as many K/V heads as query heads)': () => repeatTrial(groupedQueryRepeat, {}),
  },
  invalid: {
    'an Unsqueeze on axis 1': { id: 'unsqueeze-axis-not-2', trial: () => repeatTrial(repeatKv, { repeat: true, repeatAxis: 1 }) },
    'an Unsqueeze on axis -2 (axis 3 of the result)': { id: 'unsqueeze-axis-not-2', trial: () => repeatTrial(repeatKv, { repeat: true, repeatAxis: -2 }) },
    'K straight from a graph input, asked for the repeat': { id: 'not-produced', trial: () => repeatTrial(repeatKv, {}) },
  },
};

