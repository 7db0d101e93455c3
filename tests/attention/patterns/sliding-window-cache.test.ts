/** Tester cases of src/attention/patterns/sliding-window-cache.ts: the present cache of a sliding-window layer. */
import { describePattern } from '../../harness/pattern-tester.js';
import { slidingWindowCacheCases } from './cases/sliding-window-cache.js';

describePattern(slidingWindowCacheCases);
