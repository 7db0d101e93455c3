/**
 * rotate-qk on the export zoo: every zoo model whose attention sites ctc finds, rotated at
 * q_attn and k_cache with quantization off, still computes its stored float outputs
 * (output_K.pb, onnxruntime on the original) within float error. The Hadamard block is the
 * largest power of two dividing the head dim (the block-diagonal construction a head dim such
 * as 48 takes with head_dim 16). Only DeBERTa's sites are not rotated: its Q and K also meet
 * position keys and queries in other products (c2p, p2c), which a rotation would change, so
 * rotate-qk's whyNotRotated refuses them and compile leaves them un-rotated, says so and writes
 * them into transform_config's ignore.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rotateQk, whyNotRotated } from '../../passes/rotate-qk.js';
import { silentProgress } from '../../src/calibrate/run.js';
import { compile } from '../../src/compile.js';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { ROOT } from '../harness/paths.js';
import { powerOfTwoBlock, r3Rotation } from '../harness/r3.js';
import { bytesOf } from '../harness/rewrite.js';
import { ZOO, outputErrors, zooModels } from './zoo.js';

describe('zoo: rotated Q and K, quantization off, the same outputs', () => {
  const rotated: string[] = [];
  for (const m of zooModels()) {
    it(m.name, async () => {
      const model = loadModel(join(ZOO, m.name, 'model.onnx'));
      let found;
      try {
        found = findSites(model, ATTENTION_PATTERNS).sites;
      } catch {
        return; // a site ctc refuses: tests/zoo/inspect.test.ts and expected-failures.json pin why
      }
      const withQ = found.filter((s) => s.q !== undefined);
      const refused = withQ.filter((s) => whyNotRotated(s) !== undefined);
      if (m.family === 'deberta_v2') for (const s of withQ) expect(whyNotRotated(s), s.name).toMatch(/^its (queries|keys) feed \d+ products \(.*\), not only Q·Kᵀ/);
      else expect(refused.map((s) => s.name)).toEqual([]);
      const sites = withQ.filter((s) => !refused.includes(s));
      if (sites.length === 0) return;
      const rotations = new Map(sites.map((s) => [s, r3Rotation(powerOfTwoBlock(s.headDim))]));
      expect(rotateQk(model, rotations, 'float').modified).toBe(true);
      // the zoo has no external data: the model's bytes are the whole model
      for (const e of await outputErrors(m, bytesOf(model))) expect(e.relRms, `${e.output} set ${e.set}`).toBeLessThan(1e-5);
      rotated.push(m.name);
    });
  }
  it('the zoo models with sites were rotated (76 of 118 when this was written: 79 less the 3 DeBERTa exports)', () => {
    expect(rotated.length).toBeGreaterThanOrEqual(76);
  });
});

describe('compile with R3 on DeBERTa (zoo, TorchScript)', () => {
  it('leaves both sites un-rotated, names them with the reason, writes them into every apply entry\'s ignore, and stays within the zoo bound', async () => {
    const m = zooModels().find((z) => z.name === 'deberta_v2-ts17')!;
    const dir = mkdtempSync(join(tmpdir(), 'ctc-zoo-deberta-r3-'));
    const outDir = join(dir, 'out');
    const warnings: string[] = [];
    try {
      // An encoder has no cache: fp8-head's attention group, with fp8-kv-r3's transform_config.
      const rulesFile = join(dir, 'fp8-head-r3.json');
      const { transform_config } = JSON.parse(readFileSync(join(ROOT, 'rules', 'fp8-kv-r3.json'), 'utf8'));
      writeFileSync(rulesFile, JSON.stringify({ ...JSON.parse(readFileSync(join(ROOT, 'rules', 'fp8-head.json'), 'utf8')), transform_config }));
      await compile({ model: join(ZOO, m.name, 'model.onnx'), rules: rulesFile, outDir, threads: 1, progress: silentProgress, warn: (w) => warnings.push(w) });
      const sites = ['model.encoder.layer.0.attention.self', 'model.encoder.layer.1.attention.self'];
      for (const s of sites) {
        const said = warnings.filter((w) => w.startsWith(`${s}: its queries feed `));
        expect(said, JSON.stringify(warnings)).toHaveLength(1);
        expect(said[0]).toMatch(/feed \d+ products \(.*\), not only Q·Kᵀ \(e\.g\. DeBERTa's position terms\), which a rotation of Q and K would change; its Q and K are not rotated \(transform_config's ignore lists it\)$/);
      }
      const config = JSON.parse(readFileSync(join(outDir, 'quantization_config.json'), 'utf8'));
      const apply = config.transform_config.config_groups.R3.apply as { location: string; ignore: string[] }[];
      expect(apply.map((a) => [a.location, a.ignore])).toEqual([
        ['q_attn', sites],
        ['k_cache', sites],
      ]);
      for (const e of await outputErrors(m, join(outDir, 'model.onnx'))) expect(e.relRms, `${e.output} set ${e.set}`).toBeLessThan(2 ** -4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
