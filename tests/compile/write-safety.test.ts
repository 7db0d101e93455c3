/**
 * Never lose a byte: `ctc compile` run from the command line against inputs and outputs that
 * overlap. Every case checks the user's input files byte for byte afterwards, and every output
 * weight against the input's, read back independently through the model loader.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHAPES, generateLlama } from '../../corpus/generators/llama.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-writes-'));
const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const DIMS = ['--dim', 'batch=1', '--dim', 'seq=4', '--dim', 'total_seq=7', '--dim', 'past_seq=3'];

/**
 * A tiny Llama whose large weights (≥ 10,000 bytes) live in `location` beside the model, and
 * whose mid-size ones (k/v projections, 8 KiB) stay inline, so that --external-data has
 * something to move into OUTDIR/model.onnx.data.
 */
function externalModel(dir: string, location: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  const { model } = generateLlama(SHAPES['tiny']!, { form: 'decomposed', weights: 'inline' });
  saveModel(model, file, { externalize: { location, threshold: 10_000 } });
  return file;
}

/** Every initializer's bytes, by name, as the model loader reads them (external data included). */
function weights(modelFile: string): Map<string, Buffer> {
  return new Map(loadModel(modelFile).graph.initializers.map((v) => [v.name, Buffer.from(v.initializer!.bytes())]));
}

/** The input's weights are all in the output, byte for byte. */
function expectSameWeights(input: Map<string, Buffer>, outputModel: string): void {
  const out = weights(outputModel);
  const differ = [...input].filter(([name, bytes]) => !out.get(name)?.equals(bytes)).map(([name]) => name);
  expect(differ).toEqual([]);
}

function snapshot(files: readonly string[]): Map<string, Buffer> {
  return new Map(files.map((f) => [f, readFileSync(f)]));
}

function expectUnchanged(before: Map<string, Buffer>): void {
  for (const [f, bytes] of before) expect(readFileSync(f).equals(bytes), f).toBe(true);
}

describe('the three data-loss cases of issue 9', () => {
  it('--save-stats onto the input model is refused, naming both, and the model is untouched', () => {
    const d = tmp();
    cpSync(join(LLAMA, '..', 'model.onnx'), join(d, 'model.onnx'));
    cpSync(join(LLAMA, '..', 'test_data_set_0'), join(d, 'test_data_set_0'), { recursive: true });
    const model = join(d, 'model.onnx');
    const before = snapshot([model]);
    const r = ctc('compile', model, '--rules', 'fp8-head', '-o', join(d, 'out'), '--save-stats', model);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`--save-stats ${model}`);
    expect(r.stderr).toMatch(/would overwrite the input model/);
    expectUnchanged(before);
  });

  it('input weights in model.onnx.data, compiled with --external-data: input and output weights are all intact', () => {
    const d = tmp();
    const model = externalModel(join(d, 'in'), 'model.onnx.data');
    const before = snapshot([model, join(d, 'in', 'model.onnx.data')]);
    const input = weights(model);
    const r = ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, 'out'), '-q', '--external-data');
    expect(r.code, r.stderr).toBe(0);
    expectUnchanged(before);
    expectSameWeights(input, join(d, 'out', 'model.onnx'));
    // the source keeps a single link: every ONNX loader still accepts it
    expect(statSync(join(d, 'in', 'model.onnx.data')).nlink).toBe(1);
  });

  for (const location of ['scales.json', 'quantization_config.json']) {
    it(`input weights in an external file named ${location}: the JSON output does not replace them`, () => {
      const d = tmp();
      const model = externalModel(join(d, 'in'), location);
      const before = snapshot([model, join(d, 'in', location)]);
      const input = weights(model);
      const r = ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, 'out'), '-q');
      expect(r.code, r.stderr).toBe(0);
      expectUnchanged(before);
      expectSameWeights(input, join(d, 'out', 'model.onnx'));
      // and the JSON output is still the JSON it should be
      const json = JSON.parse(readFileSync(join(d, 'out', location), 'utf8'));
      expect(location === 'scales.json' ? json['model.layers.0.self_attn.k_scale'].shape : json.quant_method).toEqual(location === 'scales.json' ? [2, 1, 1] : 'compressed-tensors');
    });
  }
});
