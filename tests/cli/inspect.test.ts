import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

describe('ctc (no command), --help, --version', () => {
  it('--help says what ctc is and lists the commands', async () => {
    const r = await ctc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/compressed-tensors/);
    expect(r.stdout).toMatch(/ctc inspect <model>/);
  });
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect((await ctc('--version')).stdout.trim()).toBe(pkg.version);
  });
  it('no command is a usage error (exit 1)', async () => {
    const r = await ctc();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Name a command/);
  });
  it('an unknown command is a usage error (exit 1)', async () => {
    const r = await ctc('inpsect', corpusModel('bert-random-ts-eager'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unknown argument|Did you mean/i);
  });
});

describe('ctc inspect', () => {
  it('prints a table of the sites', async () => {
    const r = await ctc('inspect', corpusModel('llama-gqa-bytes-ts-eager'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/4 attention site\(s\)/);
    expect(r.stdout).toMatch(/model\.model\.layers\.3\.self_attn\s+3\s+decomposed\s+self\s+6\/2\/32/);
  });
  it('--json prints {"sites": [...]} with the DESIGN.md fields', async () => {
    const r = await ctc('inspect', corpusModel('llama-gqa-bytes-dynamo-op23'), '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { sites: Record<string, unknown>[] };
    expect(doc.sites.length).toBe(4);
    expect(doc.sites[1]).toMatchObject({
      name: 'model.model.layers.1.self_attn',
      layer: 1,
      pattern: 'onnx-attention',
      kind: 'self',
      numHeads: 6,
      numKvHeads: 2,
      headDim: 32,
      k: { tensor: 'present.1.key', layout: 'BHSD', headAxis: 1 },
      v: { tensor: 'present.1.value', layout: 'BHSD', headAxis: 1 },
      cache: { pastKey: 'past_key_values.1.key', presentKey: 'present.1.key', pastValue: 'past_key_values.1.value', presentValue: 'present.1.value' },
    });
    expect(Object.keys(doc.sites[0]!)).toEqual(expect.arrayContaining(['q', 'k', 'v', 'cache', 'headDim']));
  });
  it('--explain lists every Softmax not taken, with the reason', async () => {
    const r = await ctc('inspect', corpusModel('bert-random-ts-eager'), '--explain');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Every Softmax and attention op was taken/);
  });
  it('bad input: exit 1, the file named, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-cli-'));
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, 'definitely not protobuf');
    for (const [path, message] of [
      [join(dir, 'missing.onnx'), /missing\.onnx: no such file/],
      [dir, /is a folder, not a model file/],
      [junk, /junk\.onnx: not an ONNX model/],
    ] as const) {
      const r = await ctc('inspect', path);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const withDebug = await ctc('inspect', junk, '--debug');
    expect(withDebug.code).toBe(1);
    expect(withDebug.stderr).toMatch(/\n\s+at /);
  });
});

describe('ctc inspect of a model ctc compiled', () => {
  // The cache pairs sit on the Concat that joins past and new (with the r3 sets, behind the
  // keys' rotation and centering, which present turns back): the cache is found behind them.
  // With --cache-io quantized, past is dequantized on the way in and present is the codes.
  it.each([
    ['llama-gqa-bytes-ts-eager', 'fp8-kv-head', 'float'],
    ['gpt2-bytes-ts-eager', 'int8-head', 'float'],
    ['llama-gqa-bytes-ts-eager', 'int4-kv-r3-centered', 'float'],
    ['gpt2-bytes-ts-eager', 'int4-kv-r3-dynamic', 'float'],
    ['llama-gqa-bytes-dynamo-op23', 'fp8-kv-r3', 'float'],
    ['gpt2-bytes-ts-eager', 'int8-head', 'quantized'],
    ['llama-gqa-bytes-ts-eager', 'int4-kv-r3-centered', 'quantized'],
  ])('%s with %s, --cache-io %s: the same sites with the same caches, and the same cache interface, as the float model', async (name, rules, cacheIo) => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctc-inspect-compiled-')), 'o');
    expect((await ctc('compile', corpusModel(name), '--rules', rules, '--calib-sets', '0', '--cache-io', cacheIo, '-o', out, '-q')).code).toBe(0);
    type Doc = { sites: { name: string; cache: unknown }[]; cacheInterface: { tensors: { name: string; direction: string; shape: unknown }[] } };
    const inspect = async (model: string): Promise<Doc> => JSON.parse((await ctc('inspect', model, '--json')).stdout) as Doc;
    const float = await inspect(corpusModel(name));
    const compiled = await inspect(join(out, 'model.onnx'));
    expect(float.sites.length).toBe(4);
    expect(float.sites.every((s) => s.cache !== null)).toBe(true);
    expect(compiled.sites.map((s) => [s.name, s.cache])).toEqual(float.sites.map((s) => [s.name, s.cache]));
    expect(float.cacheInterface.tensors.length).toBe(16);
    const io = (d: Doc) => d.cacheInterface.tensors.map((t) => [t.name, t.direction, t.shape]);
    expect(io(compiled)).toEqual(io(float));
  });
});
