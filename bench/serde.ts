/**
 * npm run bench:serde — decode + encode through ctc's IR against a plain read + write of the
 * same bytes, side by side in one run, each measurement in a fresh process, plain and ctc runs alternating (best of 5):
 *
 *   1. a model with ~1 GiB of inline initializers      target: time ratio <= 2, peak RSS <= 2.5 × file size
 *   2. a graph of 100 000 nodes                         target: time ratio <= 2
 *   3. the same weights as external data, 1 GiB vs 256 MiB: peak RSS must not depend on the weights' size
 *
 * Files go to a temporary folder, removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intAttr } from '../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../src/ir/builder.js';
import { Tensor } from '../src/ir/tensor.js';
import type { Value } from '../src/ir/value.js';
import { DataType } from '../src/ir/dtypes.js';
import { saveModel } from '../src/onnx/model-file.js';
import { Op } from '../src/onnx/ops.js';

const dir = mkdtempSync(join(tmpdir(), 'ctc-bench-serde-'));
const child = join(import.meta.dirname, 'serde-child.js');

interface Measured {
  ms: number;
  maxRssMB: number;
}

function once(mode: 'plain' | 'ctc', file: string): Measured {
  const out = execFileSync(process.execPath, [child, mode, file, join(dir, `out-${mode}.onnx`)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Measured;
}

/**
 * Plain and ctc runs alternate, so that both see the same disk (this machine's write speed
 * swings several-fold from one minute to the next); the best time of each, the highest RSS.
 */
function sideBySide(file: string, runs = 5): { plain: Measured; ctc: Measured } {
  const best = { plain: { ms: Infinity, maxRssMB: 0 }, ctc: { ms: Infinity, maxRssMB: 0 } };
  for (let i = 0; i < runs; i++) {
    for (const mode of ['plain', 'ctc'] as const) {
      const r = once(mode, file);
      best[mode] = { ms: Math.min(best[mode].ms, r.ms), maxRssMB: Math.max(best[mode].maxRssMB, r.maxRssMB) };
    }
  }
  return best;
}

/** `count` initializers of `perTensor` float32 values each, summed into one output. */
function weightModel(file: string, count: number, perTensor: number, external: boolean): number {
  const m = emptyModel();
  const b = new GraphBuilder(m);
  let acc: Value = b.input('x', DataType.FLOAT, [perTensor]);
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(perTensor * 4);
    // a cheap non-constant pattern (the bench is about bytes, not values)
    const view = new Uint32Array(bytes.buffer);
    for (let k = 0; k < view.length; k += 1024) view[k] = (i * 2654435761 + k) >>> 0;
    const w = b.initializer(`w${i}`, new Tensor(`w${i}`, DataType.FLOAT, [perTensor], { kind: 'raw', bytes }));
    acc = b.op(Op.Add, [acc, w]);
  }
  b.output(acc, 'y');
  saveModel(m, file, external ? { externalize: { location: `${file.split('/').pop()}.data`, threshold: 1024 } } : {});
  return statSync(file).size;
}

function nodesModel(file: string, nodes: number): number {
  const m = emptyModel();
  const b = new GraphBuilder(m);
  let v: Value = b.input('x', DataType.FLOAT, [16]);
  for (let i = 0; i < nodes; i++) v = i % 10 === 0 ? b.op(Op.Softmax, [v], [intAttr('axis', -1)]) : b.op(i % 2 ? Op.Relu : Op.Neg, [v]);
  b.output(v, 'y');
  saveModel(m, file);
  return statSync(file).size;
}

const MB = 2 ** 20;
try {
  console.log('generating models…');
  const big = join(dir, 'big.onnx');
  const bigSize = weightModel(big, 256, (4 * MB) / 4, false);
  const many = join(dir, 'nodes.onnx');
  const manySize = nodesModel(many, 100_000);
  const ext1 = join(dir, 'ext1g.onnx');
  weightModel(ext1, 256, (4 * MB) / 4, true);
  const ext256 = join(dir, 'ext256m.onnx');
  weightModel(ext256, 64, (4 * MB) / 4, true);

  const rows: [string, number, Measured, Measured][] = [];
  const b1 = sideBySide(big);
  rows.push(['1 GiB inline initializers', bigSize, b1.plain, b1.ctc]);
  const b2 = sideBySide(many);
  rows.push(['100 000 nodes', manySize, b2.plain, b2.ctc]);
  console.log('\nmodel                        file MiB   read+write ms   ctc decode+encode ms   time ratio   ctc peak RSS MiB   RSS / file');
  for (const [name, size, plain, ctc] of rows) {
    console.log(
      `${name.padEnd(28)} ${(size / MB).toFixed(1).padStart(8)}   ${plain.ms.toFixed(0).padStart(13)}   ${ctc.ms.toFixed(0).padStart(20)}   ${(ctc.ms / plain.ms).toFixed(2).padStart(10)}   ${ctc.maxRssMB.toFixed(0).padStart(16)}   ${(ctc.maxRssMB / (size / MB)).toFixed(2).padStart(10)}`,
    );
  }
  const e1 = sideBySide(ext1, 2).ctc;
  const e256 = sideBySide(ext256, 2).ctc;
  console.log(`\nexternal data: peak RSS with 1 GiB of weights ${e1.maxRssMB.toFixed(0)} MiB, with 256 MiB ${e256.maxRssMB.toFixed(0)} MiB (ratio ${(e1.maxRssMB / e256.maxRssMB).toFixed(2)}; independent of weight size = ~1)`);
  console.log('targets: time ratio <= 2; peak RSS <= 2.5 x file size for inline weights');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
