/** Tester cases of src/attention/patterns/ms-attention.ts: com.microsoft Attention is recognized, never taken. */
import { describePattern } from '../../harness/pattern-tester.js';
import { msAttentionCases } from './cases/ms-attention.js';

describePattern(msAttentionCases);
