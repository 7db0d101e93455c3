/**
 * The bigger evaluation set of a trained corpus model, built the way sets 0–15 were made
 * (corpus/README.md), from bytes of corpus/heldout.bin that none of those sets reads:
 *
 *   heldout.bin ─▶ window w: bytes [start, start+24) ─▶ float model, past length 0 ─▶ present.* = the prefix cache
 *                            bytes [start+24, start+88) ─▶ input_ids [1,64], attention_mask ones [1,88]
 *   ─▶ OUT/test_data_set_w/input_K.pb (inputs in graph order) and output_0.pb (the float logits)
 *
 * Only the script is in git: the sets (80 × 50–150 KB of float caches) are rebuilt into an ignored
 * folder in a second, deterministically: the windows are fixed by the file's length, and the
 * caches are what onnxruntime's CPU provider computes.
 *
 * Windows: the file is cut into `count + 16` equal strides, and each stride's first 88 bytes is a
 * window unless it overlaps a window of sets 0–15 (EXISTING_STARTS); the first `count` are kept.
 * Spread over the whole file, the sets sample every part of the held-out text.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import type { ort } from '../../src/calibrate/ort.js';
import { dataInputs } from '../../src/calibrate/data.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { shapeOf } from '../../src/ir/types.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';

export const PREFIX = 24;
export const SEQ = 64;
export const WINDOW = PREFIX + SEQ;
/** The trained models, each with the export whose float model computes its sets (the Llama's serve both exports). */
export const EVAL_SET_MODELS: Readonly<Record<string, string>> = { 'llama-gqa-bytes': 'llama-gqa-bytes-ts-eager', 'gpt2-bytes': 'gpt2-bytes-ts-eager' };

/** Sets of 64 input bytes predict 63 next bytes each: 80 sets are 5040 predictions. */
export const DEFAULT_COUNT = 80;

/**
 * Where sets 0–15 of the trained models start in heldout.bin (their 24-byte prefix, then their
 * 64 input_ids): found by searching each set's input_ids in the file, 24 bytes subtracted.
 * tests/corpus/eval-sets.test.ts checks that building these windows gives those sets' inputs.
 */
export const EXISTING_STARTS: readonly number[] = [
  228548, 227929, 230552, 88725, 39989, 215455, 24478, 61070, 32386, 74466, 125095, 27558, 185726, 56420, 183439, 74335,
];

/** The start offsets of `count` windows that overlap no window of sets 0–15. */
export function windowStarts(fileLength: number, count = DEFAULT_COUNT): number[] {
  const stride = Math.floor(fileLength / (count + EXISTING_STARTS.length));
  if (stride < WINDOW) throw new Error(`heldout.bin has ${fileLength} bytes: too few for ${count} windows of ${WINDOW}`);
  const overlaps = (s: number): boolean => EXISTING_STARTS.some((e) => s < e + WINDOW && e < s + WINDOW);
  const starts: number[] = [];
  for (let s = 0; s + WINDOW <= fileLength && starts.length < count; s += stride) if (!overlaps(s)) starts.push(s);
  if (starts.length < count) throw new Error(`only ${starts.length} of ${count} windows are free of sets 0-15`);
  return starts;
}

export interface BuiltSet {
  readonly start: number;
  /** Graph inputs in order, as written to input_K.pb. */
  readonly inputs: readonly Tensor[];
  readonly logits: Tensor;
}

/**
 * One set per window: the float model computes the prefix cache from the window's first 24 bytes
 * (past length 0), and the set feeds the next 64 bytes with that cache.
 */
export async function buildSets(modelPath: string, heldout: Uint8Array, starts: readonly number[]): Promise<BuiltSet[]> {
  const model = loadModel(modelPath);
  const inputs = dataInputs(model);
  const pastNames = inputs.map((v) => v.name).filter((n) => n.startsWith('past_key_values.'));
  const ids = inputs.find((v) => v.name === 'input_ids');
  const mask = inputs.find((v) => v.name === 'attention_mask');
  if (ids === undefined || mask === undefined || pastNames.length + 2 !== inputs.length) {
    throw new Error(`${modelPath}: expected inputs input_ids, attention_mask, past_key_values.*; it has ${inputs.map((v) => v.name).join(', ')}`);
  }
  const session = await createSession(modelPath, { optimization: 'disabled', intraOpThreads: 1 });
  const kvShape = (name: string): number[] => {
    const dims = shapeOf(model.graph.inputs.find((v) => v.name === name)!.type);
    if (dims === undefined || dims.length !== 4) throw new Error(`${modelPath}: ${name} is not [batch, kv_heads, past, head_dim]`);
    return [1, Number(dims[1]), 0, Number(dims[3])];
  };
  const run = async (feeds: ReadonlyMap<string, Tensor>): Promise<Record<string, ort.Tensor>> =>
    session.run(Object.fromEntries([...feeds].map(([n, t]) => [n, toOrtTensor(t)])));
  const sets: BuiltSet[] = [];
  try {
    for (const start of starts) {
      const bytes = (from: number, n: number): number[] => [...heldout.subarray(from, from + n)];
      const prefixFeeds = new Map<string, Tensor>([
        ['input_ids', Tensor.fromInt64('input_ids', [1, PREFIX], bytes(start, PREFIX))],
        ['attention_mask', Tensor.fromInt64('attention_mask', [1, PREFIX], new Array<number>(PREFIX).fill(1))],
        ...pastNames.map((n): [string, Tensor] => [n, Tensor.fromFloat32(n, DataType.FLOAT, kvShape(n), [])]),
      ]);
      const prefixOut = await run(prefixFeeds);
      const feeds = new Map<string, Tensor>([
        ['input_ids', Tensor.fromInt64('input_ids', [1, SEQ], bytes(start + PREFIX, SEQ))],
        ['attention_mask', Tensor.fromInt64('attention_mask', [1, WINDOW], new Array<number>(WINDOW).fill(1))],
        ...pastNames.map((n): [string, Tensor] => {
          const present = prefixOut[n.replace('past_key_values.', 'present.')]!;
          return [n, Tensor.fromFloat32(n, DataType.FLOAT, [...present.dims], ortToFloat64(present))];
        }),
      ]);
      const out = await run(feeds);
      const logits = out['logits']!;
      sets.push({ start, inputs: inputs.map((v) => feeds.get(v.name)!), logits: Tensor.fromFloat32('logits', DataType.FLOAT, [...logits.dims], ortToFloat64(logits)) });
    }
  } finally {
    await session.release();
  }
  return sets;
}

/** Write the sets in the ONNX test-data layout: OUT/test_data_set_N/input_K.pb, output_0.pb, numbered from 0. */
export function writeSets(outDir: string, sets: readonly BuiltSet[]): void {
  sets.forEach((set, n) => {
    const dir = join(outDir, `test_data_set_${n}`);
    mkdirSync(dir, { recursive: true });
    set.inputs.forEach((t, k) => writeFileSync(join(dir, `input_${k}.pb`), encodeTensorFile(t)));
    writeFileSync(join(dir, 'output_0.pb'), encodeTensorFile(set.logits));
  });
}

/** Build and write the bigger evaluation set of one model; returns the windows' starts. */
export async function buildEvalSets(modelPath: string, heldoutPath: string, outDir: string, count = DEFAULT_COUNT): Promise<number[]> {
  const heldout = readFileSync(heldoutPath);
  const starts = windowStarts(heldout.length, count);
  writeSets(outDir, await buildSets(modelPath, heldout, starts));
  return starts;
}
