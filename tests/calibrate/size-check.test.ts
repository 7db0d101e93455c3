/**
 * The pre-run size check, through the command line: a tensor larger than any machine's memory
 * (terabytes), sized by a model constant or by a data value, is exit 1 before onnxruntime runs,
 * naming the set, the node, its output, the shape and the bytes, in compile and in eval; the
 * same branch sized small runs. Without the check onnxruntime would be asked for the terabytes,
 * which a machine that overcommits memory grants. The refusals run the built binary, not main()
 * in-process: were the check to miss (a mutant of it), the process's address-space net
 * (src/cli/address-space.ts) still refuses the allocation, which a test worker has no net for.
 * The small branch asks for nothing large whatever the check does, so it runs in-process.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRunSizes } from '../../src/calibrate/size-check.js';
import { CalibrationError } from '../../src/errors.js';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { Op } from '../../src/onnx/ops.js';
import { ctc, ctcProcess } from '../harness/cli.js';
import { llamaWithExpand } from '../harness/wide-expand.js';

const out = (): string => join(mkdtempSync(join(tmpdir(), 'ctc-sizes-out-')), 'o');

describe('a tensor no machine can hold is refused before onnxruntime runs', () => {
  it('sized by a model constant: compile and eval exit 1 naming set, node, output, shape and bytes', () => {
    // 2^20 · 2^20 · 2^4 floats: 64 TiB
    const model = llamaWithExpand([2 ** 20, 2 ** 20, 16], false);
    const o = out();
    const c = ctcProcess('compile', model, '--rules', 'fp8-head', '-o', o);
    expect(c.code, c.stderr).toBe(1);
    const message = /ctc: test_data_set_0: the model would make output "wide" of Expand node "wide_expand" float\[1048576, 1048576, 16\], 64\.0 TiB \(70368744177664 bytes\): more than this machine's memory and swap \([\d.]+ [GT]iB\), so it was not run; its size comes from the model's constants and this set's input shapes: check the constants that feed this node/;
    expect(c.stderr).toMatch(message);
    expect(existsSync(o)).toBe(false);
    const e = ctcProcess('eval', model, model);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/ctc: test_data_set_0: the reference .*model\.onnx would make output "wide" of Expand node "wide_expand" float\[1048576, 1048576, 16\], 64\.0 TiB/);
    expect(e.stderr).not.toMatch(/onnxruntime could not run/);
  });

  it("sized by a value of the set's inputs: exit 1 saying to check the data", () => {
    const model = llamaWithExpand([2 ** 40], true);
    const c = ctcProcess('compile', model, '--rules', 'fp8-head', '-o', out());
    expect(c.code, c.stderr).toBe(1);
    // The set's largest token id times 2^40 floats.
    const m = /output "wide" of Expand node "wide_expand" float\[(\d+), 1099511627776\], [\d.]+ TiB \((\d+) bytes\).*its size comes from the values of this set's inputs: check them/.exec(c.stderr);
    expect(m, c.stderr).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) * 2 ** 40 * 4);
    const e = ctcProcess('eval', model, model);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/test_data_set_0: the reference .* would make output "wide" of Expand node "wide_expand" float\[\d+, 1099511627776\].*values of this set's inputs/);
  });

  it('the same branch sized small runs (compile and eval exit 0)', async () => {
    const model = llamaWithExpand([3], true);
    const c = await ctc('compile', model, '--rules', 'fp8-head', '-o', out());
    expect(c.code, c.stderr).toBe(0);
    const e = await ctc('eval', model, model);
    expect(e.code, e.stderr).toBe(0);
  });
});

describe('checkRunSizes, in process, with a limit of 4,000 bytes', () => {
  /** A model with one float input x of `xDims` and one node `op` whose output is the graph output. */
  function oneNode(xDims: number[], build: (b: GraphBuilder, x: Value) => Value): Model {
    const m = emptyModel({ '': 19 });
    const b = new GraphBuilder(m);
    const x = b.input('x', DataType.FLOAT, xDims);
    b.output(build(b, x), 'y');
    return m;
  }
  const feeds = (dims: number[]): Map<string, Tensor> => new Map([['x', Tensor.fromFloat32('x', DataType.FLOAT, dims, new Array(dims.reduce((a, c) => a * c, 1)).fill(0.5))]]);
  const refusal = (m: Model, dims: number[]): string => {
    try {
      checkRunSizes(m, feeds(dims), 'set_7', 'the model', 4000);
    } catch (e) {
      expect(e).toBeInstanceOf(CalibrationError);
      return (e as Error).message;
    }
    return 'not refused';
  };

  it('sizes past 2^53 (an int64 constant of 2^62) still count', () => {
    const m = oneNode([1], (b, x) => b.op(Op.Expand, [x, b.constI64('shape', [1], [2 ** 62])]));
    expect(refusal(m, [1])).toMatch(/^set_7: the model would make output "y" of Expand node "Expand" float\[4611686018427387904\], 16\.0 EiB/);
  });
  it('Tile, ConstantOfShape, Range, Pad and Resize: the bytes as computed by hand, refused past the limit and not at it', () => {
    // Tile [2, 3] by [10, 20]: [20, 60] floats = 4,800 bytes; by [10, 16]: 3,840 bytes
    const tile = (r: number[]): Model => oneNode([2, 3], (b, x) => b.op(Op.Tile, [x, b.constI64('r', [2], r)]));
    expect(refusal(tile([10, 20]), [2, 3])).toMatch(/Tile node "Tile" float\[20, 60\], 4\.7 KiB \(4800 bytes\)/);
    expect(refusal(tile([10, 16]), [2, 3])).toBe('not refused');
    // ConstantOfShape of Shape(x) · 400 (float by default): [2, 600] = 4,800 bytes
    const cos = oneNode([2, 3], (b, x) => b.op(Op.ConstantOfShape, [b.op(Op.Mul, [b.op(Op.Shape, [x]), b.constI64('k', [2], [1, 200])])]));
    expect(refusal(cos, [2, 3])).toMatch(/ConstantOfShape node "ConstantOfShape" float\[2, 600\], .*\(4800 bytes\).*model's constants and this set's input shapes/);
    // Range(0, 10000.5, 7.5) in float: ceil(10000.5 / 7.5) = 1334 floats = 5,336 bytes
    const range = oneNode([1], (b) => b.op(Op.Range, [b.constF32('s', [], [0]), b.constF32('l', [], [10000.5]), b.constF32('d', [], [7.5])]));
    expect(refusal(range, [1])).toMatch(/Range node "Range" float\[1334\], .*\(5336 bytes\)/);
    // Pad [2, 3] by 10 before and 500 after on axis 1: [2, 513] = 4,104 bytes
    const pad = oneNode([2, 3], (b, x) => b.op(Op.Pad, [x, b.constI64('p', [4], [0, 10, 0, 500])]));
    expect(refusal(pad, [2, 3])).toMatch(/Pad node "Pad" float\[2, 513\], .*\(4104 bytes\)/);
    // Resize [1, 1, 2, 3] by scales [1, 1, 12.5, 13.4]: floor(25), floor(40.2) -> [1, 1, 25, 40] = 4,000 bytes: at the limit, runs
    const resize = (s: number[]): Model => oneNode([1, 1, 2, 3], (b, x) => b.op(Op.Resize, [x, undefined, b.constF32('s', [4], s)]));
    expect(refusal(resize([1, 1, 12.5, 13.4]), [1, 1, 2, 3])).toBe('not refused');
    expect(refusal(resize([1, 1, 12.5, 13.7]), [1, 1, 2, 3])).toMatch(/Resize node "Resize" float\[1, 1, 25, 41\], .*\(4100 bytes\)/);
  });
  it("a size from the set's values says to check the data", () => {
    // Range(0, ReduceMax(x) · 2000, 1) over x = 0.5: 1000 floats, 4,000 bytes: runs; x = 0.6: 1200, refused
    const m = oneNode([3], (b, x) => b.op(Op.Range, [b.constF32('s', [], [0]), b.op(Op.Mul, [b.op(Op.ReduceMax, [x], [intAttr('keepdims', 0)]), b.constF32('k', [], [2000])]), b.constF32('d', [], [1])]));
    expect(refusal(m, [3])).toBe('not refused');
    const big = new Map([['x', Tensor.fromFloat32('x', DataType.FLOAT, [3], [0.1, 0.6, 0.2])]]);
    expect(() => checkRunSizes(m, big, 'set_7', 'the model', 4000)).toThrow(/float\[1200\], .*\(4800 bytes\).*its size comes from the values of this set's inputs/);
  });
});
