/**
 * Graphs of any depth: nothing in ctc walks a graph by recursion, so a chain of 60,000 nodes in
 * front of an attention block (deep enough to overflow any recursive walk: Node's stack holds
 * about 10,000 frames) loads, verifies, sorts, infers shapes, matches, calibrates and writes.
 * bench/deep-graph.ts runs the same at 200,000 nodes.
 */
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { HIDDEN, SEQ, deepChainModel } from '../harness/attention-blocks.js';
import { ctc } from '../harness/cli.js';
import { bytesOf } from '../harness/rewrite.js';

const CHAIN = 60_000;

describe(`a ${CHAIN}-node chain in front of attention`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctc-deep-'));
  const model = join(dir, 'model.onnx');
  const g = deepChainModel(CHAIN);
  writeFileSync(model, bytesOf(g.model));
  mkdirSync(join(dir, 'test_data_set_0'));
  writeFileSync(join(dir, 'test_data_set_0', 'input_0.pb'), encodeTensorFile(Tensor.fromFloat32('x', DataType.FLOAT, [1, SEQ, HIDDEN], Array.from({ length: SEQ * HIDDEN }, (_, i) => Math.cos(i)))));

  it('inspect finds the site', () => {
    expect(g.model.graph.nodes.length).toBeGreaterThan(CHAIN);
    const r = ctc('inspect', model, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).sites.length).toBe(1);
  });
  it('compile calibrates and writes', () => {
    const out = join(dir, 'out');
    const r = ctc('compile', model, '--rules', 'fp8-head', '-o', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['compile.json', 'model.onnx', 'quantization_config.json', 'scales.json']);
  });
});
