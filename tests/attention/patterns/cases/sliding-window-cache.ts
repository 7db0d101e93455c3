/** The tester cases of src/attention/patterns/sliding-window-cache.ts: present as the last positions of the cache. */
import { matchWindow, slidingWindowPresent } from '../../../../src/attention/patterns/sliding-window-cache.js';
import { matchPattern } from '../../../../src/pattern/match.js';
import type { DecomposedBlock } from '../../../harness/decomposed-block.js';
import { decomposedBlock } from '../../../harness/decomposed-block.js';
import type { Trial } from '../../../harness/pattern-tester.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

/** The window pattern tried on present_key of a decomposed block with a cache. */
function windowTrial(o: Partial<DecomposedBlock>): Trial {
  const { model, kCache } = decomposedBlock({ cache: 'input', ...o });
  const present = model.graph.outputs.find((v) => v.name === 'present_key')!;
  return {
    model,
    attempt: (facts) => {
      const r = matchWindow(present, kCache!, facts);
      if (!r.ok) return r;
      const tags = matchPattern(slidingWindowPresent, present, facts);
      return tags.ok ? { ok: true, tags: Object.fromEntries(tags.bindings.tags) } : tags;
    },
  };
}

export const slidingWindowCacheCases: PatternCases = {
  file: 'sliding-window-cache',
  tagged: [slidingWindowPresent],
  rules: 'fp8-kv-head',
  valid: {
    'Slice(cache, [-3], [INT64_MAX], [-2], [1]) (TorchScript, DynamicSlidingWindowLayer)': () => windowTrial({ window: 'steps' }),
    'steps left out': () => windowTrial({ window: 'noSteps' }),
    'the axis written as 2, present behind Identity': () => windowTrial({ window: 'identity', windowAxis: 2 }),
    'a window of one position': () => windowTrial({ window: 'steps', windowStart: -1 }),
  },
  invalid: {
    'a Slice on the head axis': { id: 'window-not-sequence-axis', trial: () => windowTrial({ window: 'steps', windowAxis: 1 }) },
    'a Slice that keeps the first positions': { id: 'window-not-last-positions', trial: () => windowTrial({ window: 'steps', windowStart: 0 }) },
    'every other position (step 2)': { id: 'window-step-not-1', trial: () => windowTrial({ window: 'steps', windowStep: 2 }) },
    'present written straight from the Concat (not a window)': { id: 'wrong-op', trial: () => windowTrial({}) },
  },
};
