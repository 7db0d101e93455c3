/**
 * The seed models a campaign mutates: small real exports from corpus/ and ONNX backend node
 * tests (unpacked into .cache/node, as the test setup does), each with its data sets, read once
 * into memory. Weights favour the small models so that a run costs milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface SeedSet {
  readonly name: string;
  /** input_K.pb files, in order. */
  readonly inputs: readonly Uint8Array[];
}

export interface Seed {
  readonly name: string;
  readonly weight: number;
  readonly model: Uint8Array;
  readonly sets: readonly SeedSet[];
  /** Dynamic dimensions --calib-random needs for this model. */
  readonly dims: readonly string[];
}

const SEEDS: readonly { name: string; dir: string; weight: number; dims: string[] }[] = [
  { name: 'qwen2-random', dir: 'corpus/qwen2-random-ts-eager', weight: 1.2, dims: ['batch=1', 'seq=4', 'past_seq=2', 'total_seq=6'] },
  { name: 'bert-random', dir: 'corpus/bert-random-ts-eager', weight: 0.8, dims: ['batch=1', 'seq=4'] },
  { name: 'gqa-past', dir: '.cache/node/test_attention_4d_gqa_with_past_and_present', weight: 2, dims: [] },
  { name: 'diff-heads-past-expanded', dir: '.cache/node/test_attention_3d_diff_heads_with_past_and_present_expanded', weight: 2, dims: [] },
  { name: 'causal-expanded', dir: '.cache/node/test_attention_4d_causal_expanded', weight: 2, dims: [] },
  { name: 'mask-expanded', dir: '.cache/node/test_attention_4d_attn_mask_expanded', weight: 1, dims: [] },
  { name: 'gqa-3d', dir: '.cache/node/test_attention_3d_gqa', weight: 1, dims: [] },
  { name: 'attention-4d', dir: '.cache/node/test_attention_4d', weight: 1, dims: [] },
  { name: 'softmax', dir: '.cache/node/test_softmax_example', weight: 1, dims: [] },
  { name: 'if', dir: '.cache/node/test_if', weight: 0.5, dims: [] },
];

/** Unpack the node tests into .cache/node when a fresh checkout has not yet. */
function ensureNodeTests(root: string): void {
  const node = join(root, '.cache', 'node');
  if (existsSync(join(node, 'test_attention_4d'))) return;
  mkdirSync(join(root, '.cache'), { recursive: true });
  execFileSync('tar', ['-xzf', join(root, 'corpus', 'onnx-node-tests.tar.gz'), '-C', join(root, '.cache')]);
}

export function loadCorpus(root: string): Seed[] {
  ensureNodeTests(root);
  return SEEDS.map((s) => {
    const dir = join(root, s.dir);
    const sets = readdirSync(dir)
      .filter((d) => /^test_data_set_\d+$/.test(d))
      .sort()
      .map((d) => {
        const inputs: Uint8Array[] = [];
        for (let i = 0; existsSync(join(dir, d, `input_${i}.pb`)); i++) inputs.push(readFileSync(join(dir, d, `input_${i}.pb`)));
        return { name: d, inputs };
      });
    return { name: s.name, weight: s.weight, model: readFileSync(join(dir, 'model.onnx')), sets, dims: s.dims };
  });
}
