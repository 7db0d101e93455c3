/** Tester cases of src/attention/patterns/kv-cache.ts: the cache Concat outside a fused op. */
import { describePattern } from '../../harness/pattern-tester.js';
import { kvCacheCases } from './cases/kv-cache.js';

describePattern(kvCacheCases);
