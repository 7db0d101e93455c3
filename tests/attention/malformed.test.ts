/**
 * Damaged graphs the fuzz campaign (npm run fuzz) found crashing site finding. Each keeps its
 * case: a real corpus model with one protobuf field changed, and what finding must say.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { decodeModel, ModelProtoSchema } from '../../src/onnx/serde.js';
import { CORPUS, NODE_TESTS, corpusModel } from '../harness/paths.js';

const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { models: Record<string, { sites: number; heads: number }> };

describe('site finding on damaged graphs', () => {
  it('a MatMul that lacks its weight input is no projection (seed 3, case 832)', () => {
    // Qwen2's q_proj bias passes through an Identity; made a MatMul, it has one input.
    const m = fromBinary(ModelProtoSchema, readFileSync(corpusModel('qwen2-random-ts-eager')));
    const n = m.graph!.node.find((x) => x.name === 'Identity_206')!;
    expect(n.input).toHaveLength(1);
    n.opType = 'MatMul';
    const scan = findSites(decodeModel(toBinary(ModelProtoSchema, m), { file: 'damaged.onnx' }), ATTENTION_PATTERNS);
    // The bias Add's other operand is still the q_proj MatMul: the sites are the intact model's.
    const want = manifest.models['qwen2-random-ts-eager']!;
    expect(scan.sites.map((s) => [s.kind, s.numHeads])).toEqual(Array.from({ length: want.sites }, () => ['self', want.heads]));
  });

  it('a head size no tensor could hold, from a declared shape, is refused naming the site (seed 20261201, case 30788)', () => {
    // The backend model's Q input [B, S, H·D] = [2, 4, 24] declared as [2, 4, 3·2^40]: its
    // reshape to [B, H, S, D] makes the head size 2^40. Before, the site was found and QDQ
    // insertion built a scale array of that length (exit 2; the fuzz case had 2^53·4/3).
    const m = fromBinary(ModelProtoSchema, readFileSync(join(NODE_TESTS, 'test_attention_3d_diff_heads_with_past_and_present_expanded', 'model.onnx')));
    const intact = findSites(decodeModel(toBinary(ModelProtoSchema, m), { file: 'intact.onnx' }), ATTENTION_PATTERNS);
    expect(intact.sites.map((s) => [s.numHeads, s.headDim])).toEqual([[3, 8]]);
    const q = m.graph!.input.find((i) => i.name === 'Q')!;
    const shape = q.type!.value.case === 'tensorType' ? q.type!.value.value.shape! : undefined;
    shape!.dim[2]!.value = { case: 'dimValue', value: 3n * 2n ** 40n };
    expect(() => findSites(decodeModel(toBinary(ModelProtoSchema, m), { file: 'damaged.onnx' }), ATTENTION_PATTERNS)).toThrow(/attention site attention\.0: inconsistent heads \(3 query heads, 3 key\/value heads, head size 1099511627776\)/);
  });
});

