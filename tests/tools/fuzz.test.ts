/**
 * The fuzz campaign's machinery: cases are reproducible, a case's run captures what the command
 * printed and is classed by its exit code, a worker that never answers is a hang, one that dies
 * is a crash, and answered runs are counted by their class.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeCase } from '../../tools/fuzz/case.js';
import { runCampaign } from '../../tools/fuzz/campaign.js';
import { loadCorpus } from '../../tools/fuzz/corpus.js';
import { runCase } from '../../tools/fuzz/worker.js';
import { ROOT, corpusModel } from '../harness/paths.js';

describe('fuzz campaign machinery', () => {
  it('cases are a function of (seed, index)', () => {
    const corpus = loadCorpus(ROOT);
    for (const i of [0, 7, 123]) {
      const a = makeCase(5, i, corpus);
      const b = makeCase(5, i, corpus);
      expect(b.argv).toEqual(a.argv);
      expect([...b.files.keys()]).toEqual([...a.files.keys()]);
      for (const [k, v] of a.files) expect(Buffer.from(b.files.get(k)!).equals(Buffer.from(v))).toBe(true);
    }
    expect(makeCase(5, 1, corpus).argv).not.toEqual(makeCase(6, 1, corpus).argv);
  });

  it("a case's transcript holds what the command printed, on stdout and on stderr, and the class its exit code gives", async () => {
    const model = readFileSync(corpusModel('gpt2-bytes-ts-eager'));
    const base = { index: 0, command: 'inspect' as const, seed: 'test', what: [] };
    const ok = await runCase({ ...base, files: new Map([['m/model.onnx', model]]), argv: ['inspect', 'm/model.onnx'] }, join(mkdtempSync(join(tmpdir(), 'ctc-fuzz-case-')), 'c'));
    expect(ok.outcome).toBe('exit0');
    expect(ok.message).toMatch(/^m\/model\.onnx: 4 attention site\(s\)/);
    const missing = await runCase({ ...base, files: new Map(), argv: ['inspect', 'm/missing.onnx'] }, join(mkdtempSync(join(tmpdir(), 'ctc-fuzz-case-')), 'c'));
    expect(missing.outcome).toBe('exit1');
    expect(missing.message).toMatch(/^ctc: .*missing\.onnx/);
  });

  const fakeWorker = (body: string): string => {
    const f = join(mkdtempSync(join(tmpdir(), 'ctc-fuzz-fake-')), 'worker.mjs');
    writeFileSync(f, body);
    return f;
  };

  it('a worker that never answers is a hang, once per case', async () => {
    const r = await runCampaign({ root: ROOT, seed: 1, runs: 2, timeoutMs: 300, workerScript: fakeWorker("process.on('message', (m) => process.send({ started: m.index, command: 'inspect' }));") });
    expect(r.counts.hang).toBe(2);
    expect(r.findings.map((f) => f.outcome)).toEqual(['hang', 'hang']);
  });

  it('a worker that dies is a crash, and one that answers is counted by its class', async () => {
    const dies = await runCampaign({ root: ROOT, seed: 1, runs: 2, timeoutMs: 10_000, workerScript: fakeWorker("process.on('message', () => process.exit(3));") });
    expect(dies.counts.crash).toBe(2);
    expect(dies.findings[0]!.message).toMatch(/died \(exit code 3/);
    const answers = await runCampaign({
      root: ROOT,
      seed: 1,
      runs: 3,
      timeoutMs: 10_000,
      workerScript: fakeWorker("process.on('message', (m) => process.send({ index: m.index, outcome: m.index === 1 ? 'exit2' : 'exit1', code: 1, message: '' }));"),
    });
    expect([answers.counts.exit1, answers.counts.exit2, answers.findings.length]).toEqual([2, 1, 1]);
  });
});
