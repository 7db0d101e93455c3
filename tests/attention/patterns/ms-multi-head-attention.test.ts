/** Tester cases of src/attention/patterns/ms-multi-head-attention.ts: com.microsoft MultiHeadAttention. */
import { describePattern } from '../../harness/pattern-tester.js';
import { msMultiHeadAttentionCases } from './cases/ms-multi-head-attention.js';

describePattern(msMultiHeadAttentionCases);
