/**
 * npm run mutate:dtypes: the codecs (src/ir/dtypes.ts) alone, with their own narrow test set
 * (vitest.mutate-dtypes.config.ts); everything else as stryker.config.json.
 */
import base from './stryker.config.json' with { type: 'json' };

export default {
  ...base,
  _comment: 'npm run mutate:dtypes: src/ir/dtypes.ts against vitest.mutate-dtypes.config.ts (the codec, data type and serde tests).',
  mutate: ['src/ir/dtypes.ts'],
  vitest: { configFile: 'vitest.mutate-dtypes.config.ts', related: false },
  htmlReporter: { fileName: '.cache/mutation/dtypes.html' },
  jsonReporter: { fileName: '.cache/mutation/dtypes.json' },
};
