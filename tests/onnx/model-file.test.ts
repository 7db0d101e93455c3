import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel, saveModel, writeFileAtomic } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { corpusModel } from '../harness/paths.js';
import { bytesOf } from '../harness/rewrite.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ctc-model-file-'));
});

/** x[64] -> MatMul-free chain with one 64 KiB weight, so it goes to external data. */
function weighted() {
  const m = emptyModel();
  const b = new GraphBuilder(m);
  const x = b.input('x', DataType.FLOAT, [16384]);
  const w = b.constF32('w', [16384], Float32Array.from({ length: 16384 }, (_, i) => i / 7));
  b.output(b.op(Op.Add, [x, w]), 'y');
  return m;
}

function write(name: string, bytes: Uint8Array | string): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}

describe('bad input is a clear error naming the file', () => {
  it('a path that does not exist', () => {
    expect(() => loadModel(join(dir, 'nope.onnx'))).toThrow(/nope\.onnx: no such file/);
  });
  it('a folder', () => {
    expect(() => loadModel(dir)).toThrow(/is a folder, not a model file/);
  });
  it('truncated bytes', () => {
    const bytes = readFileSync(corpusModel('bert-random-ts-eager'));
    const f = write('cut.onnx', bytes.subarray(0, bytes.length >> 1));
    expect(() => loadModel(f)).toThrow(/cut\.onnx: not an ONNX model/);
  });
  it('random bytes', () => {
    let s = 12345;
    const bytes = Uint8Array.from({ length: 4096 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24) & 0xff);
    const f = write('random.onnx', bytes);
    expect(() => loadModel(f)).toThrow(/random\.onnx: not an ONNX model/);
  });
  it('a text file', () => {
    const f = write('readme.onnx', 'this is not a model, just some text\n');
    expect(() => loadModel(f)).toThrow(/readme\.onnx: not an ONNX model/);
  });
  it('an empty file', () => {
    const f = write('empty.onnx', new Uint8Array(0));
    expect(() => loadModel(f)).toThrow(/empty\.onnx: not an ONNX model/);
  });
  it('a graph with a cycle', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [4]);
    const a = b.op(Op.Relu, [x], [], 'a');
    const c = b.op(Op.Add, [a, x], [], 'c');
    a.producer()!.replaceInput(0, c);
    b.output(c, 'y');
    const f = write('cycle.onnx', bytesOf(m));
    expect(() => loadModel(f)).toThrow(/cycle\.onnx: graph "main" has a cycle/);
  });
  it('two producers of one name', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [4]);
    const a = b.op(Op.Relu, [x]);
    b.output(a, 'y');
    const c = b.op(Op.Neg, [x]);
    c.name = 'y';
    const f = write('twice.onnx', bytesOf(m));
    expect(() => loadModel(f)).toThrow(/twice\.onnx: main graph: "y" has two producers/);
  });
  it('a tensor whose raw data does not fit its shape', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, [4]);
    const w = b.initializer('w', new Tensor('w', DataType.FLOAT, [4], { kind: 'raw', bytes: new Uint8Array(12) }));
    b.output(b.op(Op.Add, [x, w]), 'y');
    const f = write('short.onnx', bytesOf(m));
    expect(() => loadModel(f)).toThrow(/short\.onnx: tensor "w" \(initializer\) has 12 bytes of raw data, but its shape \[4\] needs 16/);
  });
  it('a reference to a missing value', () => {
    const m = emptyModel();
    const b = new GraphBuilder(m);
    b.input('x', DataType.FLOAT, [4]);
    b.output(b.op(Op.Relu, [new Value('ghost')]), 'y');
    const f = write('dangling.onnx', bytesOf(m));
    expect(() => loadModel(f)).toThrow(/dangling\.onnx: main graph: input 0 of Relu node "Relu" refers to "ghost", which no node, input or initializer defines/);
  });
});

describe('external data', () => {
  it('writes, reads lazily, and round-trips', () => {
    const m = weighted();
    const f = join(dir, 'model.onnx');
    const res = saveModel(m, f, { externalize: { location: 'model.onnx.data', threshold: 1024 } });
    expect(res.externalPath).toBe(join(dir, 'model.onnx.data'));
    expect(readFileSync(f).length).toBeLessThan(1000);
    const loaded = loadModel(f);
    const w = loaded.graph.initializers[0]!.initializer!;
    expect(w.storage.kind).toBe('external');
    expect(Array.from(w.toFloat32().subarray(0, 3))).toEqual([0, Math.fround(1 / 7), Math.fround(2 / 7)]);
    // Unchanged, it re-encodes byte for byte, still pointing at the same file.
    const again = bytesOf(loaded);
    expect(Buffer.compare(Buffer.from(again), readFileSync(f))).toBe(0);
  });

  it('an external data file that is too short', () => {
    const f = join(dir, 'model.onnx');
    saveModel(weighted(), f, { externalize: { location: 'weights.bin', threshold: 1024 } });
    truncateSync(join(dir, 'weights.bin'), 10);
    expect(() => loadModel(f)).toThrow(/model\.onnx: external data file "weights\.bin" is 10 bytes, too short for tensor "w"/);
  });

  it('a missing external data file', () => {
    const k = join(dir, 'k.onnx');
    saveModel(weighted(), k, { externalize: { location: 'k.data', threshold: 1024 } });
    const moved = mkdtempSync(join(tmpdir(), 'ctc-moved-'));
    writeFileSync(join(moved, 'k.onnx'), readFileSync(k));
    expect(() => loadModel(join(moved, 'k.onnx'))).toThrow(/k\.onnx: tensor "w" needs external data file "k\.data", which does not exist beside the model/);
  });

  it('refuses locations outside the model folder: absolute, "..", and a symlink out', () => {
    const outside = mkdtempSync(join(tmpdir(), 'ctc-outside-'));
    const m = weighted();
    saveModel(m, join(outside, 'w.onnx'), { externalize: { location: 'w.bin', threshold: 1024 } });
    const relocated = (loc: string): string => {
      const model = loadModel(join(outside, 'w.onnx'));
      const f = join(dir, `${loc.replace(/[^a-z]/g, '_')}.onnx`);
      saveModel(model, f, { relocateExternal: () => loc });
      return f;
    };
    expect(() => loadModel(relocated(join(outside, 'w.bin')))).toThrow(/an absolute location; ONNX locations must be relative/);
    expect(() => loadModel(relocated('../w.bin'))).toThrow(/leaves the model's folder \(".."\) and is refused/);
    mkdirSync(join(dir, 'sub'));
    symlinkSync(join(outside, 'w.bin'), join(dir, 'sub', 'link.bin'));
    expect(() => loadModel(relocated('sub/link.bin'))).toThrow(/a link that resolves outside the model's folder/);
  });
});

describe('atomic writes', () => {
  it('a failing write leaves neither the file nor a temporary', () => {
    const f = join(dir, 'out.onnx');
    const bad = { byteLength: 10 } as unknown as Uint8Array;
    expect(() => writeFileAtomic(f, [new Uint8Array(4), bad])).toThrow();
    expect(existsSync(f)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
