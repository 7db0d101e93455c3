/** The tester cases of src/attention/patterns/ms-group-query-attention.ts: com.microsoft GroupQueryAttention. */
import type { Attribute } from '../../../../src/ir/attribute.js';
import { intAttr } from '../../../../src/ir/attribute.js';
import { msGroupQueryAttention } from '../../../../src/attention/patterns/ms-group-query-attention.js';
import { Op } from '../../../../src/onnx/ops.js';
import { fusedTrial } from '../../../harness/fused-op.js';
import type { FusedOp } from '../../../harness/fused-op.js';
import type { PatternCases } from '../../../harness/pattern-tester.js';

const H = 4;
const HKV = 2;
const D = 2;
const counts = [intAttr('num_heads', H), intAttr('kv_num_heads', HKV)];
const gqa = (inputs: FusedOp['inputs'], attributes: FusedOp['attributes'] = counts, outputs = 3) => () =>
  fusedTrial(msGroupQueryAttention, { op: Op.MsGroupQueryAttention, opsets: { '': 17, 'com.microsoft': 1 }, inputs, attributes, outputs });
const q = [1, 3, H * D];
const kv = [1, 3, HKV * D];
const past = [1, HKV, 2, D];
const quantized: Attribute = { name: 'k_quant_type', value: { kind: 'string', value: new TextEncoder().encode('PER_CHANNEL') } };

export const msGroupQueryAttentionCases: PatternCases = {
  file: 'ms-group-query-attention',
  tagged: [],
  valid: {
    'past_key and past_value (inputs 3, 4): the cache inside the op': gqa([q, kv, kv, past, past]),
    'no cache': gqa([q, kv, kv], counts, 1),
  },
  invalid: {
    'no kv_num_heads': { id: 'no-head-counts', trial: gqa([q, kv, kv, past, past], [intAttr('num_heads', H)]) },
    'packed QKV (no key input)': { id: 'packed-qkv', trial: gqa([[1, 3, (H + 2 * HKV) * D], undefined, undefined, past, past]) },
    'a cache the op already quantizes (k_quant_type)': { id: 'cache-already-quantized', trial: gqa([q, kv, kv, past, past], [...counts, quantized]) },
  },
};

