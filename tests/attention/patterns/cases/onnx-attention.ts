/** The tester cases of src/attention/patterns/onnx-attention.ts: the ONNX Attention op (opset 23). */
import { intAttr } from '../../../../src/ir/attribute.js';
import { onnxAttention } from '../../../../src/attention/patterns/onnx-attention.js';
import { Op } from '../../../../src/onnx/ops.js';
import { fusedTrial } from '../../../harness/fused-op.js';
import type { FusedOp } from '../../../harness/fused-op.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

const H = 4;
const D = 2;
const attention = (inputs: FusedOp['inputs'], attributes: FusedOp['attributes'] = [], outputs = 1) => () => fusedTrial(onnxAttention, { op: Op.Attention, opsets: { '': 23 }, inputs, attributes, outputs });
const bhsd = [1, H, 3, D];
const packed = [1, 3, H * D];
const heads = [intAttr('q_num_heads', H), intAttr('kv_num_heads', H)];

export const onnxAttentionCases: PatternCases = {
  file: 'onnx-attention',
  tagged: [],
  valid: {
    '4-D [B, H, S, D] inputs': attention([bhsd, bhsd, bhsd]),
    'packed 3-D inputs with q_num_heads and kv_num_heads': attention([packed, packed, packed], heads),
    'past_key and past_value inputs (the cache inside the op)': attention([bhsd, bhsd, bhsd, undefined, [1, H, 2, D], [1, H, 2, D]], [], 3),
  },
  invalid: {
    'no V input': { id: 'missing-qkv', trial: attention([bhsd, bhsd, undefined]) },
    'packed 3-D inputs without head counts': { id: 'packed-without-head-counts', trial: attention([packed, packed, packed]) },
    'past_key without past_value': { id: 'past-on-one-side', trial: attention([bhsd, bhsd, bhsd, undefined, [1, H, 2, D], undefined], [], 3) },
  },
};

