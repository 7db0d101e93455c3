/** The tester cases of src/attention/patterns/folded-heads.ts (see tests/harness/pattern-tester.ts). */
import { foldedHeadsAttention, unfoldedScores } from '../../../../src/attention/patterns/folded-heads.js';
import type { FoldedBlock } from '../../../harness/folded-block.js';
import { foldedBlock } from '../../../harness/folded-block.js';
import type { PatternCases, Trial } from '../../../harness/pattern-tester.js';

export function foldedTrial(o: Partial<FoldedBlock>): Trial {
  const { model, anchor } = foldedBlock(o);
  return {
    model,
    attempt: (facts) => {
      const r = foldedHeadsAttention.match(anchor, facts);
      return r.ok ? { ok: true, tags: r.site.variant } : r;
    },
  };
}

export const foldedHeadsCases: PatternCases = {
  file: 'folded-heads',
  tagged: [unfoldedScores],
  valid: {
    'BLOOM: folded scores scaled, ALiBi added while folded, additive mask, a cache': () => foldedTrial({ foldedScale: 'mul', foldedBias: 'add', mask: 'add', cache: true }),
    "DeBERTa: Kᵀ divided, position terms added while folded, masked_fill": () => foldedTrial({ keyScale: 'div', foldedScale: 'none', foldedBias: 'add', mask: 'whereFill' }),
    'Q multiplied, folded scores divided': () => foldedTrial({ queryScale: 'mul', foldedScale: 'div' }),
    'Q divided, Kᵀ multiplied, nothing added': () => foldedTrial({ queryScale: 'div', keyScale: 'mul', foldedScale: 'none' }),
  },
  invalid: {
    'Q already [B·H, S, D]: no per-head tensor to quantize': { id: 'fold-not-per-head', trial: () => foldedTrial({ query: 'alreadyFolded' }) },
    'a fold of Q that splits the head size': { id: 'fold-not-per-head', trial: () => foldedTrial({ query: 'headSizeSplit' }) },
    'K transposed on other axes': { id: 'transpose-perm', trial: () => foldedTrial({ keyPerm: [1, 0, 2] }) },
  },
};
