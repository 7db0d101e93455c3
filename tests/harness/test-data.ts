/**
 * Reading ONNX test-data folders (test_data_set_N/input_K.pb, output_K.pb) for tests.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../../src/ir/tensor.js';
import { decodeTensorFile } from '../../src/onnx/serde.js';

export function testDataSets(modelDir: string): string[] {
  return readdirSync(modelDir)
    .filter((d) => /^test_data_set_\d+$/.test(d))
    .sort((a, b) => Number(a.split('_').pop()) - Number(b.split('_').pop()))
    .map((d) => join(modelDir, d));
}

export function readTensors(setDir: string, prefix: 'input' | 'output'): Tensor[] {
  const out: Tensor[] = [];
  for (let i = 0; existsSync(join(setDir, `${prefix}_${i}.pb`)); i++) {
    const f = join(setDir, `${prefix}_${i}.pb`);
    out.push(decodeTensorFile(readFileSync(f), f));
  }
  return out;
}
