/** Tester cases of src/attention/patterns/flex-attention.ts: the ONNX FlexAttention op (ai.onnx.preview). */
import { describePattern } from '../../harness/pattern-tester.js';
import { flexAttentionCases } from './cases/flex-attention.js';

describePattern(flexAttentionCases);
