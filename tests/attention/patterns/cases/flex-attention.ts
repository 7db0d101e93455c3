/** The tester cases of src/attention/patterns/flex-attention.ts: the ONNX FlexAttention op (ai.onnx.preview). */
import { flexAttention } from '../../../../src/attention/patterns/flex-attention.js';
import { Op } from '../../../../src/onnx/ops.js';
import { fusedTrial } from '../../../harness/fused-op.js';
import type { FusedOp } from '../../../harness/fused-op.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

const flex = (inputs: FusedOp['inputs']) => () => fusedTrial(flexAttention, { op: Op.FlexAttention, opsets: { '': 23, 'ai.onnx.preview': 1 }, inputs });

export const flexAttentionCases: PatternCases = {
  file: 'flex-attention',
  tagged: [],
  valid: {
    '4-D Q, K and V': flex([[1, 4, 3, 2], [1, 4, 3, 2], [1, 4, 3, 2]]),
    'fewer K/V heads (grouped-query)': flex([[1, 4, 3, 2], [1, 2, 3, 2], [1, 2, 3, 2]]),
  },
  invalid: {
    'no V input': { id: 'missing-qkv', trial: flex([[1, 4, 3, 2], [1, 4, 3, 2], undefined]) },
    '3-D inputs': { id: 'not-rank-4', trial: flex([[1, 3, 8], [1, 3, 8], [1, 3, 8]]) },
  },
};

