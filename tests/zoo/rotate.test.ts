/**
 * rotate-qk on the export zoo: every zoo model whose attention sites ctc finds, rotated at
 * q_attn and k_cache with quantization off, still computes its stored float outputs
 * (output_K.pb, onnxruntime on the original) within float error. The Hadamard block is the
 * largest power of two dividing the head dim (the block-diagonal construction a head dim such
 * as 48 takes with head_dim 16).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateQk } from '../../passes/rotate-qk.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { ZOO, outputErrors, zooModels } from './zoo.js';

const block = (headDim: number): number => headDim & -headDim;

describe('zoo: rotated Q and K, quantization off, the same outputs', () => {
  const rotated: string[] = [];
  for (const m of zooModels()) {
    it(m.name, async () => {
      const model = loadModel(join(ZOO, m.name, 'model.onnx'));
      let found;
      try {
        found = findSites(model, ATTENTION_PATTERNS).sites;
      } catch {
        return; // a site ctc refuses: tests/zoo/inspect.test.ts and expected-failures.json pin why
      }
      const sites = found.filter((s) => s.q !== undefined);
      if (sites.length === 0) return;
      const rotations = new Map(sites.map((s) => [s, { scheme: 'R3', args: { type: 'hadamard' as const, apply: [], randomize: false as const, requires_grad: false, head_dim: block(s.headDim), precision: 'torch.float32' as const } }]));
      expect(rotateQk(model, rotations, 'float').modified).toBe(true);
      const dir = mkdtempSync(join(tmpdir(), 'ctc-zoo-rotate-'));
      try {
        // external data (none in the zoo) would be read from the original folder
        saveModel(model, join(dir, 'model.onnx'));
        const errors = await outputErrors(m, join(dir, 'model.onnx'));
        for (const e of errors) expect(e.relRms, `${e.output} set ${e.set}`).toBeLessThan(1e-5);
        rotated.push(m.name);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  it('the zoo models with sites were rotated (79 of 118 when this was written)', () => {
    expect(rotated.length).toBeGreaterThanOrEqual(79);
  });
});
