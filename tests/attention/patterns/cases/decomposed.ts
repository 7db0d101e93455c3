/** The tester cases of src/attention/patterns/decomposed.ts (see tests/harness/pattern-tester.ts). */
import { decomposedAttention, decomposedPattern } from '../../../../src/attention/patterns/decomposed.js';
import type { DecomposedBlock } from '../../../harness/decomposed-block.js';
import { decomposedBlock } from '../../../harness/decomposed-block.js';
import type { Trial } from '../../../harness/pattern-tester.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

export function decomposedTrial(o: Partial<DecomposedBlock>): Trial {
  const { model, anchor } = decomposedBlock(o);
  return {
    model,
    attempt: (facts) => {
      const r = decomposedAttention.match(anchor, facts);
      return r.ok ? { ok: true, tags: r.site.variant } : r;
    },
  };
}

export const decomposedCases: PatternCases = {
  file: 'decomposed',
  tagged: [decomposedPattern],
  valid: {
    'TorchScript eager: scores times a constant, additive mask': () => decomposedTrial({ scoreScale: 'mul', mask: 'add' }),
    'scores divided, Where mask, NaN guard (dynamo)': () => decomposedTrial({ scoreScale: 'div', mask: 'where', nanGuard: 'isNaN' }),
    'Q scaled by Mul, K by Mul on Kᵀ (√scale on both), masked-rows guard': () => decomposedTrial({ scoreScale: 'none', queryScale: 'mul', keyScale: 'mul', nanGuard: 'maskedRows' }),
    'Q and Kᵀ divided': () => decomposedTrial({ scoreScale: 'none', queryScale: 'div', keyScale: 'div' }),
    'K scaled before its transpose, probabilities scaled (FlexAttention body)': () => decomposedTrial({ scoreScale: 'none', keyScaleBeforeTranspose: 'mul', probabilityScale: 'mul' }),
    'K divided before its transpose, probabilities divided': () => decomposedTrial({ scoreScale: 'none', keyScaleBeforeTranspose: 'div', probabilityScale: 'div' }),
    'softcap (Gemma 2)': () => decomposedTrial({ softcap: 'tanh', mask: 'add' }),
    'a [B, S, H, D] key (BERT)': () => decomposedTrial({ keyLayout: 'BSHD' }),
    "dynamo's 3-D transpose of K": () => decomposedTrial({ keyLayout: 'BHSD3d' }),
    'a cache Concat and the grouped-query repeat on K and V': () => decomposedTrial({ cache: 'input', repeat: true, mask: 'add' }),
    "dynamo's 3-D transpose of K reading the repeat's Expand (the repeat's Reshape merged), a cache": () => decomposedTrial({ cache: 'input', repeat: true, mergedRepeat: true, keyLayout: 'BHSD3d' }),
    'Softmax on axis 3 of rank-4 scores (the last axis, written positively)': () => decomposedTrial({ softmaxAxis: 3 }),
    'ALiBi bias added, then masked_fill with a constant (MPT)': () => decomposedTrial({ bias: 'add', mask: 'whereFill', cache: 'input' }),
    "T5's relative position bias, then an additive mask, unscaled scores": () => decomposedTrial({ scoreScale: 'none', keyLayout: 'BSHD', bias: 'add', mask: 'add' }),
    'the mask added before the scale: (Q·Kᵀ + mask) / c (CodeGen)': () => decomposedTrial({ maskBeforeScale: 'add', scoreScale: 'div', cache: 'input' }),
    'a same-type Cast after the cache Concat (GPT-J TorchScript)': () => decomposedTrial({ cache: 'wrapped', cacheCast: 'float', mask: 'add' }),
  },
  invalid: {
    'a Softmax on the query axis': { id: 'softmax-axis-not-last', trial: () => decomposedTrial({ softmaxAxis: 2 }) },
    'a [B, S, H, D] key with a cache': { id: 'bshd-key-with-cache-or-repeat', trial: () => decomposedTrial({ keyLayout: 'BSHD', cache: 'input' }) },
    'a cache Concat on K only': { id: 'cache-on-one-side', trial: () => decomposedTrial({ cache: 'input', uncachedValue: true }) },
    'masked positions filled from an activation, not a constant': { id: 'not-constant', trial: () => decomposedTrial({ mask: 'fillFromInput' }) },
  },
};

