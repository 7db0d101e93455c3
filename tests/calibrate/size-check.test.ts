/**
 * The pre-run size check, through the command line: a tensor larger than any machine's memory
 * (terabytes), sized by a model constant or by a data value, is exit 1 before onnxruntime runs,
 * naming the set, the node, its output, the shape and the bytes, in compile and in eval; the
 * same branch sized small runs. Without the check onnxruntime would be asked for the terabytes,
 * which a machine that overcommits memory grants.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import { llamaWithExpand } from '../harness/wide-expand.js';

const out = (): string => join(mkdtempSync(join(tmpdir(), 'ctc-sizes-out-')), 'o');

describe('a tensor no machine can hold is refused before onnxruntime runs', () => {
  it('sized by a model constant: compile and eval exit 1 naming set, node, output, shape and bytes', () => {
    // 2^20 · 2^20 · 2^4 floats: 64 TiB
    const model = llamaWithExpand([2 ** 20, 2 ** 20, 16], false);
    const o = out();
    const c = ctc('compile', model, '--rules', 'fp8-head', '-o', o);
    expect(c.code, c.stderr).toBe(1);
    const message = /ctc: test_data_set_0: the model would make output "wide" of Expand node "wide_expand" float\[1048576, 1048576, 16\], 64\.0 TiB \(70368744177664 bytes\): more than this machine's memory and swap \([\d.]+ [GT]iB\), so it was not run; its size comes from the model's constants and this set's input shapes: check the constants that feed this node/;
    expect(c.stderr).toMatch(message);
    expect(existsSync(o)).toBe(false);
    const e = ctc('eval', model, model);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/ctc: test_data_set_0: the reference .*model\.onnx would make output "wide" of Expand node "wide_expand" float\[1048576, 1048576, 16\], 64\.0 TiB/);
    expect(e.stderr).not.toMatch(/onnxruntime could not run/);
  });

  it("sized by a value of the set's inputs: exit 1 saying to check the data", () => {
    const model = llamaWithExpand([2 ** 40], true);
    const c = ctc('compile', model, '--rules', 'fp8-head', '-o', out());
    expect(c.code, c.stderr).toBe(1);
    // The set's largest token id times 2^40 floats.
    const m = /output "wide" of Expand node "wide_expand" float\[(\d+), 1099511627776\], [\d.]+ TiB \((\d+) bytes\).*its size comes from the values of this set's inputs: check them/.exec(c.stderr);
    expect(m, c.stderr).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]) * 2 ** 40 * 4);
    const e = ctc('eval', model, model);
    expect(e.code, e.stderr).toBe(1);
    expect(e.stderr).toMatch(/test_data_set_0: the reference .* would make output "wide" of Expand node "wide_expand" float\[\d+, 1099511627776\].*values of this set's inputs/);
  });

  it('the same branch sized small runs (compile and eval exit 0)', () => {
    const model = llamaWithExpand([3], true);
    const c = ctc('compile', model, '--rules', 'fp8-head', '-o', out());
    expect(c.code, c.stderr).toBe(0);
    const e = ctc('eval', model, model);
    expect(e.code, e.stderr).toBe(0);
  });
});
