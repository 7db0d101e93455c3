/** The tester cases of src/attention/patterns/ms-multi-head-attention.ts: com.microsoft MultiHeadAttention. */
import { intAttr } from '../../../../src/ir/attribute.js';
import { msMultiHeadAttention } from '../../../../src/attention/patterns/ms-multi-head-attention.js';
import { Op } from '../../../../src/onnx/ops.js';
import { fusedTrial } from '../../../harness/fused-op.js';
import type { FusedOp } from '../../../harness/fused-op.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

const H = 4;
const D = 2;
const mha = (inputs: FusedOp['inputs'], attributes: FusedOp['attributes'] = [intAttr('num_heads', H)], outputs = 1) => () =>
  fusedTrial(msMultiHeadAttention, { op: Op.MsMultiHeadAttention, opsets: { '': 17, 'com.microsoft': 1 }, inputs, attributes, outputs });
const packed = [1, 3, H * D];
const past = [1, H, 2, D];

export const msMultiHeadAttentionCases: PatternCases = {
  file: 'ms-multi-head-attention',
  tagged: [],
  valid: {
    'packed [B, S, H·D] Q, K and V': mha([packed, packed, packed]),
    'past_key and past_value (inputs 6, 7): the cache inside the op': mha([packed, packed, packed, undefined, undefined, undefined, past, past], undefined, 3),
  },
  invalid: {
    'no num_heads': { id: 'no-num-heads', trial: mha([packed, packed, packed], []) },
    'Q, K and V packed into the query input': { id: 'packed-qkv', trial: mha([packed, undefined, undefined]) },
    'a 5-D packed QKV query': { id: 'packed-qkv-5d', trial: mha([[1, 3, H, 3, D], packed, packed]) },
  },
};

