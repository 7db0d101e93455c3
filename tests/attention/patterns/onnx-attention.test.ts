/** Tester cases of src/attention/patterns/onnx-attention.ts: the ONNX Attention op (opset 23). */
import { describePattern } from '../../harness/pattern-tester.js';
import { onnxAttentionCases } from './cases/onnx-attention.js';

describePattern(onnxAttentionCases);
