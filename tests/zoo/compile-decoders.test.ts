/**
 * Zoo decoders with a cache: `compile --rules fp8-kv-head`, calibrated on the model's two sets,
 * succeeds and keeps every output (logits and present.*) within the float8 error bound of the
 * float model's outputs (output_K.pb). The bound fails a quantization whose scales clip: shown
 * here on one model by dividing its calibrated scales by 16.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { FP8_ERROR_BOUND, compileTests, compileVerdict, errorVerdict, expectedFailures, outputErrors, zooModels } from './zoo.js';

const models = zooModels().filter((m) => m.cache);

describe('zoo decoders: compile with fp8-kv-head stays within the fp8 error', () => {
  compileTests(models, expectedFailures(), it, expect);

  it('the bound fails a quantization whose scales clip (llama-ts17, K/V scales ÷ 16)', async () => {
    const m = models.find((x) => x.name === 'llama-ts17')!;
    const { verdict, outDir } = await compileVerdict(m);
    try {
      expect(verdict).toBe('ok');
      const scales = JSON.parse(readFileSync(join(outDir, 'scales.json'), 'utf8')) as Record<string, unknown>;
      const model = loadModel(join(outDir, 'model.onnx'));
      const scaleValues = model.graph.initializers.filter((v) => v.name in scales);
      expect(scaleValues.length).toBe(4); // k_scale and v_scale of 2 layers, 2 kv heads each
      for (const v of scaleValues) {
        const t = v.initializer!;
        v.initializer = Tensor.fromFloat32(t.name, t.dataType, t.dims, Array.from(t.toFloat32(), (x) => x / 16));
      }
      saveModel(model, join(outDir, 'clipped.onnx'));
      const errors = await outputErrors(m, join(outDir, 'clipped.onnx'));
      expect(Math.max(...errors.map((e) => e.relRms))).toBeGreaterThan(2 * FP8_ERROR_BOUND);
      expect(errorVerdict(errors)).not.toBe('ok');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
