/**
 * A Softmax or attention op that compile does not take stays float, and compile says so by
 * name with the reason on stderr (issue 13: never a silent miss), as compile.json's `refused`
 * records it. Mixtral's MoE routers are Softmaxes that are no attention: its two attention
 * blocks are quantized, the two router Softmaxes are named as left in float. A model whose
 * every Softmax is attention prints no such line.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { ZOO } from './zoo.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-left-float-'));

describe('compile names what it leaves in float', () => {
  it('the MoE router Softmaxes of Mixtral (TorchScript) are named with the reason; both attention blocks are quantized', async () => {
    const out = join(tmp(), 'o');
    const r = await ctc('compile', join(ZOO, 'mixtral-ts17', 'model.onnx'), '--rules', 'fp8-kv-head', '-o', out);
    expect(r.code).toBe(0);
    const named = r.stderr.split('\n').filter((l) => l.includes('is left in float'));
    expect(named).toEqual([
      'ctc: warning: Softmax /model/model/layers.0/mlp/gate/Softmax is left in float, not quantized: its output does not feed a MatMul with V (inspect --explain shows why)',
      'ctc: warning: Softmax /model/model/layers.1/mlp/gate/Softmax is left in float, not quantized: its output does not feed a MatMul with V (inspect --explain shows why)',
    ]);
    const record = JSON.parse(readFileSync(join(out, 'compile.json'), 'utf8')) as { refused: { node: string }[]; quantizedSites: string[] };
    expect(record.refused.map((x) => x.node)).toEqual(['/model/model/layers.0/mlp/gate/Softmax', '/model/model/layers.1/mlp/gate/Softmax']);
    expect(record.quantizedSites).toHaveLength(2);
  }, 120_000);

  it('a model whose every Softmax is attention (the corpus Llama) names nothing', async () => {
    const r = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'fp8-kv-head', '--calib-sets', '0', '-o', join(tmp(), 'o'));
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/left in float/);
  }, 120_000);
});
