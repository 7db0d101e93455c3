/** Tester cases of src/attention/patterns/ms-group-query-attention.ts: com.microsoft GroupQueryAttention. */
import { describePattern } from '../../harness/pattern-tester.js';
import { msGroupQueryAttentionCases } from './cases/ms-group-query-attention.js';

describePattern(msGroupQueryAttentionCases);
