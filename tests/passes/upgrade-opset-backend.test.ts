/**
 * The opset upgrade on the ONNX backend node tests: every model whose default opset is below 21
 * is raised to 19 and to 21 (each target above its own opset). Each upgraded model must verify;
 * wherever onnxruntime runs the original and reproduces its stored outputs, the upgraded model
 * must load and reproduce them too. A refusal is allowed only for the models and reasons listed
 * below.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { upgradeOpset } from '../../passes/upgrade-opset.js';
import type { Session } from '../../src/calibrate/ort.js';
import { createSession, toOrtTensor } from '../../src/calibrate/ort.js';
import type { ort } from '../../src/calibrate/ort.js';
import { OpsetUpgradeError } from '../../src/errors.js';
import type { Model } from '../../src/ir/model.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { verifyModel } from '../../src/ir/verify.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { differsFromTensor } from '../harness/outputs.js';
import { NODE_TESTS } from '../harness/paths.js';
import { bytesOf } from '../harness/rewrite.js';
import { readTensors, testDataSets } from '../harness/test-data.js';

/** The IR version each target opset needs (onnx/onnx docs/Versioning.md). */
const IR_FOR: Record<number, number> = { 19: 9, 21: 10 };

/** `model@target` → the refusal reason the upgrade must give, and nothing else may be refused. */
const EXPECTED_REFUSALS: Record<string, string> = {
  'test_not_2d@19': 'opset-below-minimum',
  'test_not_2d@21': 'opset-below-minimum',
  'test_not_3d@19': 'opset-below-minimum',
  'test_not_3d@21': 'opset-below-minimum',
  'test_not_4d@19': 'opset-below-minimum',
  'test_not_4d@21': 'opset-below-minimum',
  'test_scan_sum@19': 'scan-8-batch-axis',
  'test_scan_sum@21': 'scan-8-batch-axis',
};

async function runOrUndefined(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor> | undefined> {
  let session: Session;
  try {
    session = await createSession(bytes, { optimization: 'disabled', intraOpThreads: 1 });
  } catch {
    return undefined;
  }
  try {
    return await session.run(feeds);
  } catch {
    return undefined;
  } finally {
    await session.release();
  }
}

function reproduces(model: Model, results: Record<string, ort.Tensor>, expected: readonly Tensor[]): string | undefined {
  for (const [i, v] of model.graph.outputs.entries()) {
    const why = differsFromTensor(results[v.name], expected[i]!);
    if (why !== undefined) return `${v.name}: ${why}`;
  }
  return undefined;
}

describe('opset upgrade on the ONNX backend node tests', () => {
  it('upgraded models verify and reproduce the stored outputs wherever onnxruntime runs the original', async () => {
    const counts = { models: 0, upgraded: 0, ran: 0, matched: 0, refused: 0, originalNotRun: 0 };
    const refused: Record<string, string> = {};
    const failures: string[] = [];
    for (const name of readdirSync(NODE_TESTS).sort()) {
      const dir = join(NODE_TESTS, name);
      const file = join(dir, 'model.onnx');
      const opset = loadModel(file).opsetVersion('');
      if (opset === undefined || opset >= 21) continue;
      counts.models++;
      const [set] = testDataSets(dir);
      const inputs = readTensors(set!, 'input');
      const expected = readTensors(set!, 'output');
      const original = loadModel(file);
      let feeds: Record<string, ort.Tensor> | undefined = {};
      try {
        const graphInputs = original.graph.inputs.filter((v) => v.initializer === undefined);
        for (const [i, v] of graphInputs.entries()) feeds[v.name] = toOrtTensor(inputs[i]!);
      } catch {
        feeds = undefined; // input types the Node binding lacks
      }
      const before = feeds && (await runOrUndefined(bytesOf(original), feeds));
      const originalReproduces = before !== undefined && reproduces(original, before, expected) === undefined;
      if (!originalReproduces) counts.originalNotRun++;
      for (const target of [19, 21]) {
        if (target <= opset) continue;
        const model = loadModel(file);
        try {
          upgradeOpset(model, target, Math.max(model.irVersion, IR_FOR[target]!));
        } catch (e) {
          if (!(e instanceof OpsetUpgradeError)) throw e;
          counts.refused++;
          refused[`${name}@${target}`] = e.reason;
          continue;
        }
        counts.upgraded++;
        expect(model.opsetVersion('')).toBe(target);
        verifyModel(model, `${name}@${target}`);
        if (!originalReproduces) continue;
        counts.ran++;
        const after = await runOrUndefined(bytesOf(model), feeds!);
        const why = after === undefined ? 'onnxruntime cannot run the upgraded model' : reproduces(model, after, expected);
        if (why === undefined) counts.matched++;
        else failures.push(`${name}@${target}: ${why}`);
      }
    }
    console.log(`opset upgrade on backend tests: ${JSON.stringify(counts)}`);
    expect(failures).toEqual([]);
    expect(refused).toEqual(EXPECTED_REFUSALS);
    expect(counts.matched).toBe(counts.ran);
    expect(counts.ran).toBeGreaterThan(1000);
  });
});
