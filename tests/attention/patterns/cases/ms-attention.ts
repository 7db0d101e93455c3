/** The tester cases of src/attention/patterns/ms-attention.ts: com.microsoft Attention is recognized, never taken. */
import { intAttr } from '../../../../src/ir/attribute.js';
import { msAttention } from '../../../../src/attention/patterns/ms-attention.js';
import { Op } from '../../../../src/onnx/ops.js';
import { fusedTrial } from '../../../harness/fused-op.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

export const msAttentionCases: PatternCases = {
  file: 'ms-attention',
  tagged: [],
  valid: {},
  invalid: {
    'packed weights (Q, K and V computed inside the op)': {
      id: 'qkv-inside-op',
      trial: () => fusedTrial(msAttention, { op: Op.MsAttention, opsets: { '': 17, 'com.microsoft': 1 }, inputs: [[1, 3, 8], [8, 24], [24]], attributes: [intAttr('num_heads', 4)] }),
    },
  },
};

