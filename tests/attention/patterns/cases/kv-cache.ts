/** The tester cases of src/attention/patterns/kv-cache.ts: the cache Concat outside a fused op. */
import { kvCacheConcat } from '../../../../src/attention/patterns/kv-cache.js';
import { matchPattern } from '../../../../src/pattern/match.js';
import type { DecomposedBlock } from '../../../harness/decomposed-block.js';
import { decomposedBlock } from '../../../harness/decomposed-block.js';
import type { Trial } from '../../../harness/pattern-tester.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

/** The kv-cache pattern tried on K's cache Concat of a decomposed block. */
function cacheTrial(o: Partial<DecomposedBlock>): Trial {
  const { model, kCache } = decomposedBlock(o);
  return {
    model,
    attempt: (facts) => {
      const r = matchPattern(kvCacheConcat, kCache!, facts);
      return r.ok ? { ok: true, tags: Object.fromEntries(r.bindings.tags) } : r;
    },
  };
}

export const kvCacheCases: PatternCases = {
  file: 'kv-cache',
  tagged: [kvCacheConcat],
  valid: {
    'past as a graph input, joined on axis -2': () => cacheTrial({ cache: 'input' }),
    'past an int8 input, dequantized and guarded (ctc compile --cache-io quantized)': () => cacheTrial({ cache: 'input', pastRead: 'dequantized' }),
    'the same through a one-input Concat': () => cacheTrial({ cache: 'wrapped', pastRead: 'dequantized' }),
    'past through a one-input Concat (TorchScript DynamicCache, first update)': () => cacheTrial({ cache: 'wrapped' }),
    'past padded by an empty constant': () => cacheTrial({ cache: 'padded' }),
    'joined on axis 2 of a rank-4 cache': () => cacheTrial({ cache: 'input', cacheAxis: 2 }),
    'then cast to its own type, which present is (GPT-J TorchScript)': () => cacheTrial({ cache: 'input', cacheCast: 'float' }),
    'the past cut to its last positions first (sliding window, TorchScript)': () => cacheTrial({ cache: 'wrapped', pastWindow: 'steps', window: 'steps' }),
    'the past input cut without steps': () => cacheTrial({ cache: 'input', pastWindow: 'noSteps', window: 'noSteps' }),
  },
  invalid: {
    'then cast to an integer type': { id: 'wrong-op', trial: () => cacheTrial({ cache: 'input', cacheCast: 'int' }) },
    'a Concat on the head axis': { id: 'concat-not-sequence-axis', trial: () => cacheTrial({ cache: 'input', cacheAxis: 1 }) },
    'the dequantized past through a Max with another value, not a guard': { id: 'max-not-guard', trial: () => cacheTrial({ cache: 'input', pastRead: 'notGuard' }) },
    'the past cut to its first positions': { id: 'window-not-last-positions', trial: () => cacheTrial({ cache: 'input', pastWindow: 'steps', windowStart: 0 }) },
  },
};

