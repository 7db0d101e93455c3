/**
 * A compiled model given to `ctc compile` again is refused (exit 1, nothing written): its Q/K/V
 * and cache edges already carry QuantizeLinear → DequantizeLinear pairs, calibrating it would
 * observe quantized values, and a second set of scales would not be the ones its pairs use.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { CtcError } from '../../src/errors.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const GPT2 = corpusModel('gpt2-bytes-ts-eager');

describe('compiling a compiled model', () => {
  it('is refused, naming the edge and the QuantizeLinear already on it; nothing is written', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ctc-twice-'));
    const first = await compile({ model: GPT2, rules: 'int8-head', outDir: join(d, 'a'), calibSets: '0', ...quiet });
    expect(first.qdqPairs).toBe(12);
    const compiled = join(d, 'a', 'model.onnx');
    const again = compile({ model: compiled, rules: 'fp8-kv-head', outDir: join(d, 'b'), calib: [dirname(GPT2)], calibSets: '0', ...quiet });
    await expect(again).rejects.toThrow(CtcError);
    // (a kv-only rule set too: the pairs hide the cache Concat, but the K edge is seen as quantized)
    await expect(again).rejects.toThrow(/model\.transformer\.h\.0\.attn Q \(.*\) is already quantized by QuantizeLinear model\.transformer\.h\.0\.attn\/q\/QuantizeLinear → DequantizeLinear; ctc compiles float models/);
    expect(existsSync(join(d, 'b'))).toBe(false);
    // from the command line: exit 1 with the same message
    const r = await ctc('compile', compiled, '--rules', 'fp8-head', '--calib', dirname(GPT2), '--calib-sets', '0', '-o', join(d, 'c'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model\.transformer\.h\.0\.attn Q \(.*\) is already quantized by QuantizeLinear .*q\/QuantizeLinear/);
    expect(existsSync(join(d, 'c'))).toBe(false);
  });
});
