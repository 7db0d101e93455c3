/**
 * `ctc compile --cache-io quantized` from the command line, and the interface `ctc inspect
 * --json` reports for it: every past input and present output in the storage type, with the
 * scale and zero point initializers a host needs (by name, holding the per-head scales of
 * scales.json), and how to start with an empty cache.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model-file.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

describe('--cache-io quantized', () => {
  it('int4-kv-head on GPT-2: 8 past inputs and 8 present outputs in int4, each with its per-head scales; inspect --json says so', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    const r = ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'int4-kv-head', '--calib-sets', '0', '--cache-io', 'quantized', '-o', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/KV cache I\/O quantized: 8 past inputs and 8 present outputs in int4/);
    const i = ctc('inspect', '--json', join(out, 'model.onnx'));
    expect(i.code).toBe(0);
    const cache = JSON.parse(i.stdout).cacheInterface;
    expect(cache.io).toBe('quantized');
    expect(cache.emptyCache).toMatch(/\[batch, kv_heads, 0, head_dim\]/);
    expect(cache.tensors.map((t: { name: string }) => t.name)).toEqual([
      ...[0, 1, 2, 3].flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]),
      ...[0, 1, 2, 3].flatMap((l) => [`present.${l}.key`, `present.${l}.value`]),
    ]);
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8'));
    const model = loadModel(join(out, 'model.onnx'));
    const init = (name: string): number[] => Array.from(model.graph.initializers.find((v) => v.name === name)!.initializer!.toFloat32());
    for (const t of cache.tensors) {
      expect(t.type, t.name).toBe('int4');
      expect(t.shape, t.name).toEqual(['batch', 6, t.direction === 'input' ? 'past_seq' : 'total_seq', 32]);
      expect(t.quantization.axis, t.name).toBe(1);
      const [, layer, kind] = /\.(\d)\.(key|value)$/.exec(t.name)!;
      const ct = scales[`model.transformer.h.${layer}.attn.${kind === 'key' ? 'k' : 'v'}_scale`];
      expect(ct.shape).toEqual([6, 1, 1]);
      // the host dequantizes with these: per head, distinct, equal to the checkpoint's scales
      expect(init(t.quantization.scale)).toEqual(ct.values);
      expect(new Set(ct.values).size).toBe(6);
      expect(init(t.quantization.zeroPoint)).toEqual([0, 0, 0, 0, 0, 0]);
    }
  });

  it('a model without a KV cache is refused with the reason (exit 1)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    const r = ctc('compile', corpusModel('bert-random-ts-eager'), '--rules', 'int8-head', '--calib-sets', '0', '--cache-io', 'quantized', '-o', out, '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--cache-io quantized: no attention site of this model has a KV cache/);
  });
});
