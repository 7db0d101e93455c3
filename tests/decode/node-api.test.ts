/**
 * What onnxruntime-node 1.30 can pass across its JavaScript API for a quantized cache, checked
 * in child processes (fetching int4 aborts the whole process): int8 both ways; a session on a
 * model with float8 inputs/outputs cannot even be created; an int4 input tensor is refused; an
 * int4 output aborts. The README's cache section states these; if onnxruntime-node changes,
 * this test says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { floatBoundary } from '../../src/decode/host-boundary.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { bytesOf } from '../harness/rewrite.js';
import { corpusModel, ROOT } from '../harness/paths.js';
import { quiet } from '../harness/quiet.js';

const dir = mkdtempSync(join(tmpdir(), 'ctc-node-api-'));

/** Run `body` (ESM, with `ort` and `feeds(type, array)` in scope) in a child node process. */
function child(model: string, body: string): { status: number | null; signal: string | null; out: string } {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    `import * as ort from ${JSON.stringify(join(ROOT, 'node_modules', 'onnxruntime-node', 'dist', 'index.js'))};
const feeds = (type, empty) => {
  const f = { input_ids: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]), attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, 3]) };
  for (let l = 0; l < 4; l++) for (const k of ['key', 'value']) f['past_key_values.' + l + '.' + k] = new ort.Tensor(type, empty(), [1, 6, 0, 32]);
  return f;
};
try {
  const s = await ort.InferenceSession.create(${JSON.stringify(model)}, { logSeverityLevel: 4 });
  ${body}
} catch (e) { console.log('ERROR ' + e.message); }
`,
  );
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

describe('onnxruntime-node 1.30 and a quantized KV cache', () => {
  const models: Record<string, string> = {};
  beforeAll(async () => {
    for (const rules of ['int8-head', 'fp8-kv-tensor', 'int4-kv-head']) {
      await compile({ model: corpusModel('gpt2-bytes-ts-eager'), rules, outDir: join(dir, rules), calibSets: '0', cacheIo: 'quantized', ...quiet });
      models[rules] = join(dir, rules, 'model.onnx');
    }
    // int4 out, float in: only the inputs wrapped
    const m = loadModel(models['int4-kv-head']!);
    floatBoundary(m, (n) => n.startsWith('past_key_values.'));
    models['int4-out'] = join(dir, 'int4-out.onnx');
    writeFileSync(models['int4-out'], bytesOf(m));
  });

  it('int8 passes both ways', () => {
    const r = child(models['int8-head']!, "const o = await s.run(feeds('int8', () => new Int8Array(0)), ['present.0.key']); console.log('OK ' + o['present.0.key'].type + ' ' + o['present.0.key'].dims.join('x'));");
    expect(r.out.trim()).toBe('OK int8 1x6x3x32');
  });

  it('float8e4m3fn: the session cannot be created', () => {
    const r = child(models['fp8-kv-tensor']!, "console.log('created');");
    expect(r.out).toMatch(/Unsupported data type: 17/);
    expect(r.out).not.toMatch(/created/);
  });

  it('int4: an input tensor is refused; fetching an output aborts the process', () => {
    const input = child(models['int4-kv-head']!, "await s.run(feeds('int4', () => new Uint8Array(0)), ['logits']); console.log('ran');");
    expect(input.out).toMatch(/ERROR Tensor.type is not supported: int4/);
    const output = child(models['int4-out']!, "await s.run(feeds('float32', () => new Float32Array(0)), ['logits']); console.log('logits ok'); await s.run(feeds('float32', () => new Float32Array(0)), ['present.0.key']); console.log('fetched');");
    expect(output.out).toMatch(/logits ok/);
    expect(output.out).not.toMatch(/fetched/);
    expect(output.signal === 'SIGABRT' || output.status === 134).toBe(true);
  });
});
