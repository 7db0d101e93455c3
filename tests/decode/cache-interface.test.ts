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
import { findDataSets, testDataSets } from '../../src/calibrate/data.js';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { hadamardMatrix } from '../../src/transform/hadamard.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

describe('--cache-io quantized', () => {
  it('int4-kv-head on GPT-2: 8 past inputs and 8 present outputs in int4, each with its per-head scales; inspect --json says so', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    const r = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'int4-kv-head', '--calib-sets', '0', '--cache-io', 'quantized', '-o', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/KV cache I\/O quantized: 8 past inputs and 8 present outputs in int4/);
    const i = await ctc('inspect', '--json', join(out, 'model.onnx'));
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
    // The text form says the same: one row per tensor with its type, shape and scale, and the start.
    const text = await ctc('inspect', join(out, 'model.onnx'));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/KV cache interface: quantized I\/O \(16 tensors; present is fed back as past unchanged/);
    for (const t of cache.tensors) {
      const row = new RegExp(`^${t.name.replace(/\./g, '\\.')}\\s+${t.direction}\\s+int4\\s+\\[batch, 6, ${t.direction === 'input' ? 'past_seq' : 'total_seq'}, 32\\]\\s+${t.quantization.scale.replace(/\./g, '\\.')} \\(zero point ${t.quantization.zeroPoint.replace(/\./g, '\\.')}, axis 1\\)$`, 'm');
      expect(text.stdout).toMatch(row);
    }
    expect(text.stdout).toMatch(/^Empty cache: feed every past input with past length 0: shape \[batch, kv_heads, 0, head_dim\]/m);
  });

  it('int4-kv-r3 on the Llama: the rotated quantized keys are the interface, and inspect --json says which tensors hold K·H', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    const r = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'int4-kv-r3', '--calib-sets', '0', '--cache-io', 'quantized', '-o', out, '--quiet');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cache = JSON.parse((await ctc('inspect', '--json', join(out, 'model.onnx'))).stdout).cacheInterface;
    expect(cache.io).toBe('quantized');
    expect(cache.tensors).toHaveLength(16);
    for (const t of cache.tensors) {
      expect(t.type, t.name).toBe('int4');
      if (t.name.endsWith('.key')) expect(t.rotation, t.name).toMatchObject({ type: 'hadamard', headDim: 32 });
      else expect(t.rotation, t.name).toBeNull();
    }
  });

  it('int4-kv-r3 with float cache I/O: present keys leave the graph un-rotated, on the int4 grid once rotated back', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    expect((await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'int4-kv-r3', '--calib-sets', '0', '-o', out, '--quiet')).code).toBe(0);
    const cache = JSON.parse((await ctc('inspect', '--json', join(out, 'model.onnx'))).stdout).cacheInterface;
    expect(cache.io).toBe('float');
    for (const t of cache.tensors) expect(t.rotation, t.name).toBeNull();
    const model = join(out, 'model.onnx');
    const set = testDataSets(loadModel(model), findDataSets(corpusModel('llama-gqa-bytes-ts-eager'), [], '8'))[0]!.load();
    const s = await createSession(model, { optimization: 'disabled' });
    const outs = await s.run(Object.fromEntries([...set].map(([n, t]) => [n, toOrtTensor(t)])));
    await s.release();
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8'))['model.model.layers.0.self_attn.k_scale'].values as number[];
    const present = outs['present.0.key']!;
    const [, heads, seq] = present.dims as [number, number, number, number];
    expect(scales).toHaveLength(heads);
    const key = ortToFloat64(present);
    const h = hadamardMatrix(32, 32);
    let offGrid = 0;
    let onPlainGrid = 0;
    for (let row = 0; row < key.length / 32; row++) {
      const scale = scales[Math.floor(row / seq) % heads]!;
      for (let j = 0; j < 32; j++) {
        let x = 0;
        for (let i = 0; i < 32; i++) x += key[row * 32 + i]! * h[i * 32 + j]!;
        offGrid = Math.max(offGrid, Math.abs(x / scale - Math.round(x / scale)));
        const plain = key[row * 32 + j]! / scale;
        if (Math.abs(plain - Math.round(plain)) < 1e-3) onPlainGrid++;
      }
    }
    expect(offGrid).toBeLessThan(1e-3);
    // un-rotated, the keys are not on the grid (only by chance, e.g. zeros)
    expect(onPlainGrid / key.length).toBeLessThan(0.2);
  });

  it('a model without a KV cache is refused with the reason (exit 1)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-cacheio-')), 'out');
    const r = await ctc('compile', corpusModel('bert-random-ts-eager'), '--rules', 'int8-head', '--calib-sets', '0', '--cache-io', 'quantized', '-o', out, '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--cache-io quantized: no attention site of this model has a KV cache/);
  });
});
