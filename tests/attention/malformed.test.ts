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
import { CORPUS, corpusModel } from '../harness/paths.js';

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
});
