/**
 * npm run bench:cache — per rule set, on the trained corpus Llama (GQA, 2 kv heads × 32 dims ×
 * 4 layers), the KV cache an application holds and the decode step time, float32 cache I/O
 * against `--cache-io quantized`, side by side in one run (same statistics for both, greedy
 * decode of 64 tokens from a 16-byte prompt at onnxruntime's default level, one thread,
 * alternating, best of 3 per side).
 *
 * Cache bytes per token: the bytes of every present tensor after the last step, divided by the
 * cache length. int8 and float32 are the tensors onnxruntime-node returned; float8 and int4
 * cannot cross its JavaScript API (README), so those decode through src/decode/host-boundary.ts
 * and their bytes are the storage type's: 1 byte per float8, 2 int4 per byte, as a C/C++/Python
 * host holds them. Expected: 4× smaller at 8 bits, 8× at 4 bits. Step time: the median of steps
 * 1..63 (step 0 reads the prompt); quantized I/O adds a DequantizeLinear per past input and runs
 * the graph otherwise unchanged.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDataSets, testDataSets } from '../src/calibrate/data.js';
import { createSession } from '../src/calibrate/ort.js';
import { silentProgress } from '../src/calibrate/run.js';
import { compile } from '../src/compile.js';
import { cachePlan, greedyDecode } from '../src/decode/greedy.js';
import type { DecodeResult } from '../src/decode/greedy.js';
import { floatBoundary } from '../src/decode/host-boundary.js';
import { elemTypeOf, shapeOf } from '../src/ir/types.js';
import { dataTypeInfo } from '../src/ir/dtypes.js';
import { encodeModel } from '../src/onnx/serde.js';
import { concatChunks } from '../src/onnx/wire.js';
import { loadModel } from '../src/onnx/model-file.js';
import { builtinRuleNames } from '../src/rules/load.js';

const MODEL = join(import.meta.dirname, '..', '..', 'corpus', 'llama-gqa-bytes-ts-eager', 'model.onnx');
const STEPS = 64;
const quiet = { progress: silentProgress, warn: () => {} };
const isCache = (n: string): boolean => /^(past_key_values|present)\./.test(n);

interface Side {
  readonly bytesPerToken: number;
  readonly stepMs: number;
  readonly tokens: number[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function decodeOnce(file: string, prompt: number[]): Promise<{ r: DecodeResult; bytesPerToken: number }> {
  const model = loadModel(file);
  // Bytes per token of the declared cache outputs: kv_heads × head_dim × the type's bits / 8.
  const declared = model.graph.outputs
    .filter((o) => isCache(o.name))
    .reduce((a, o) => {
      const s = shapeOf(o.type)!;
      return a + ((s[1] as number) * (s[3] as number) * dataTypeInfo(elemTypeOf(o.type)!).bits) / 8;
    }, 0);
  const passable = model.graph.outputs.filter((o) => isCache(o.name)).every((o) => ['float', 'int8'].includes(dataTypeInfo(elemTypeOf(o.type)!).name));
  if (!passable) floatBoundary(model, isCache);
  const e = encodeModel(model);
  const session = await createSession(concatChunks(e.chunks, e.size), { optimization: 'all', intraOpThreads: 1 });
  try {
    const r = await greedyDecode(session, cachePlan(model), prompt, STEPS);
    const measured = r.cacheBytes / r.cacheTokens;
    if (passable && Math.abs(measured - declared) > 1e-9) throw new Error(`${file}: measured ${measured} bytes per token, declared ${declared}`);
    return { r, bytesPerToken: declared };
  } finally {
    await session.release();
  }
}

/** Float I/O and quantized I/O decoded in turn, 3 rounds, the best step time of each side (the machine is shared). */
async function sides(floatFile: string, quantizedFile: string, prompt: number[]): Promise<[Side, Side]> {
  const best: (Side | undefined)[] = [undefined, undefined];
  for (let i = 0; i < 3; i++) {
    for (const [k, file] of [floatFile, quantizedFile].entries()) {
      const { r, bytesPerToken } = await decodeOnce(file, prompt);
      const stepMs = median(r.stepMs.slice(1));
      if (best[k] === undefined || stepMs < best[k].stepMs) best[k] = { bytesPerToken, stepMs, tokens: r.tokens };
    }
  }
  return [best[0]!, best[1]!];
}

const dir = mkdtempSync(join(tmpdir(), 'ctc-bench-cache-'));
const ids = testDataSets(loadModel(MODEL), findDataSets(MODEL, [], '8'))[0]!.load().get('input_ids')!;
const prompt = Array.from(ids.toFloat32().slice(0, 16));
console.log(`llama-gqa-bytes-ts-eager, ${STEPS} greedy steps, onnxruntime-node CPU, level all, 1 thread\n`);
console.log('rule set        storage       KV bytes/token: float32  quantized  ratio    ms/step: float I/O  quantized I/O  ratio   same tokens');
for (const rules of builtinRuleNames()) {
  const stats = join(dir, `${rules}.json`);
  await compile({ model: MODEL, rules, outDir: join(dir, `${rules}-float`), calibSets: '0-7', saveStats: stats, ...quiet });
  const q = await compile({ model: MODEL, rules, outDir: join(dir, `${rules}-quantized`), stats: [stats], cacheIo: 'quantized', ...quiet });
  const [f, s] = await sides(join(dir, `${rules}-float`, 'model.onnx'), join(dir, `${rules}-quantized`, 'model.onnx'), prompt);
  const same = f.tokens.every((t, i) => t === s.tokens[i]);
  console.log(
    `${rules.padEnd(15)} ${q.cacheIo.tensors[0]!.type.padEnd(13)} ${String(f.bytesPerToken).padStart(23)}  ${String(s.bytesPerToken).padStart(9)}  ${(f.bytesPerToken / s.bytesPerToken).toFixed(2).padStart(5)}×  ` +
      `${f.stepMs.toFixed(2).padStart(17)}  ${s.stepMs.toFixed(2).padStart(13)}  ${(s.stepMs / f.stepMs).toFixed(2).padStart(5)}   ${same ? 'yes' : 'NO'}`,
  );
}
