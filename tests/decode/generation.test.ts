/**
 * Proof by generation: a greedy decode of 32 steps from a corpus prompt, feeding present back
 * as past, gives the same tokens with `--cache-io quantized` as with float cache I/O, for every
 * rule set (all quantize the KV cache) on both trained corpus models, at onnxruntime's default
 * optimization level. int8 caches cross the JavaScript API as int8 (and take a quarter of the
 * float32 bytes); float8 and int4 ones cannot (tests/decode/node-api.test.ts), so those run
 * through src/decode/host-boundary.ts, which quantizes at the boundary to the same codes.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { createSession } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { cachePlan, greedyDecode } from '../../src/decode/greedy.js';
import type { DecodeResult } from '../../src/decode/greedy.js';
import { floatBoundary } from '../../src/decode/host-boundary.js';
import { elemTypeOf } from '../../src/ir/types.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { builtinRuleNames, loadRuleSet } from '../../src/rules/load.js';
import { UsageError } from '../../src/errors.js';
import { bytesOf } from '../harness/rewrite.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const STEPS = 32;
const isCache = (name: string): boolean => /^(past_key_values|present)\./.test(name);

async function decode(file: string, prompt: readonly number[], wrap: boolean): Promise<DecodeResult> {
  const model = loadModel(file);
  if (wrap) floatBoundary(model, isCache);
  const session = await createSession(bytesOf(model), { optimization: 'all', intraOpThreads: 1 });
  try {
    return await greedyDecode(session, cachePlan(model), prompt, STEPS);
  } finally {
    await session.release();
  }
}

for (const name of ['llama-gqa-bytes-ts-eager', 'gpt2-bytes-ts-eager']) {
  describe(`${name}: greedy decoding with the KV cache in its storage type`, () => {
    const path = corpusModel(name);
    const dir = mkdtempSync(join(tmpdir(), `ctc-decode-${name}-`));
    // The prompt: the first 16 held-out bytes of evaluation set 8.
    const ids = testDataSets(loadModel(path), findDataSets(path, [], '8'))[0]!.load().get('input_ids')!;
    const prompt = Array.from(ids.toFloat32().slice(0, 16));

    for (const rules of builtinRuleNames().filter((r) => loadRuleSet(r).kvCacheScheme?.dynamic === true)) {
      it(`${rules}: ${STEPS} tokens with float cache I/O; --cache-io quantized is refused (its scales are computed per token in the model)`, async () => {
        const floatIo = join(dir, `${rules}-float`);
        await compile({ model: path, rules, outDir: floatIo, calibSets: '0-1', ...quiet });
        expect((await decode(join(floatIo, 'model.onnx'), prompt, false)).tokens.length).toBe(STEPS);
        const refused = compile({ model: path, rules, outDir: join(dir, `${rules}-quantized`), calibSets: '0-1', cacheIo: 'quantized', ...quiet });
        await expect(refused).rejects.toThrow(UsageError);
        await expect(refused).rejects.toThrow(/^--cache-io quantized: .* dynamically .*per-token scales and zero points .* Use --cache-io float/);
        expect(existsSync(join(dir, `${rules}-quantized`))).toBe(false);
      }, 300_000);
    }

    for (const rules of builtinRuleNames().filter((r) => loadRuleSet(r).kvCacheScheme?.dynamic !== true)) {
      it(`${rules}: ${STEPS} tokens, the same with --cache-io quantized as with float cache I/O`, async () => {
        const stats = join(dir, `${rules}.stats.json`);
        const floatIo = join(dir, `${rules}-float`);
        const quantIo = join(dir, `${rules}-quantized`);
        await compile({ model: path, rules, outDir: floatIo, calibSets: '0-1', saveStats: stats, ...quiet });
        const r = await compile({ model: path, rules, outDir: quantIo, stats: [stats], cacheIo: 'quantized', ...quiet });
        const storage = r.cacheIo.tensors[0]!.type;
        expect(new Set(r.cacheIo.tensors.map((t) => t.type))).toEqual(new Set([storage]));
        expect(r.cacheIo.tensors.length).toBe(16); // 4 layers × (key, value) × (past, present)

        const quantFile = join(quantIo, 'model.onnx');
        const declared = loadModel(quantFile).graph.inputs.filter((v) => isCache(v.name)).map((v) => elemTypeOf(v.type));
        expect(new Set(declared)).toEqual(new Set([{ int8: DataType.INT8, float8e4m3fn: DataType.FLOAT8E4M3FN, int4: DataType.INT4 }[storage]]));

        const reference = await decode(join(floatIo, 'model.onnx'), prompt, false);
        const quantized = await decode(quantFile, prompt, storage !== 'int8');
        expect(reference.tokens.length).toBe(STEPS);
        expect(quantized.tokens).toEqual(reference.tokens);
        if (storage === 'int8') {
          // what the application holds: a quarter of the float32 cache, byte for byte
          expect(quantized.cacheTokens).toBe(reference.cacheTokens);
          expect(quantized.cacheBytes * 4).toBe(reference.cacheBytes);
        }
      }, 300_000);
    }
  });
}
