/**
 * The export zoo (corpus/zoo.tar.xz, unpacked into .cache/zoo by the global setup): real
 * TorchScript and dynamo exports of tiny random Hugging Face models, each with a meta.json that
 * states what the architecture has (attention blocks, heads, kv heads, head size, a cache).
 *
 *   meta.json ─┐
 *   model.onnx ─┴─ inspectVerdict ─▶ 'ok' | "sites 0 of 2" | "cache linked on 1 of 2 sites" | …
 *   + test_data_set_{0,1} ─ compileVerdict (fp8-kv-head or fp8-head, calibrated on the sets)
 *                           ─▶ 'ok' | "compile: …" | "present.0.key set 1: relative RMS error … > …"
 *
 * A verdict names the first way a model falls short, so that tests/zoo/expected-failures.json
 * can pin each known failure down exactly and say when it is fixed.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanModelFile } from '../../src/cli/inspect.js';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { compile } from '../../src/compile.js';
import { ROOT } from '../harness/paths.js';
import { readTensors, testDataSets } from '../harness/test-data.js';
import { quiet } from '../harness/quiet.js';

export const ZOO = join(ROOT, '.cache', 'zoo');
export const EXPECTED_FAILURES_FILE = 'tests/zoo/expected-failures.json';

export interface ZooMeta {
  readonly name: string;
  readonly family: string;
  readonly kind: 'decoder' | 'encoder' | 'seq2seq' | 'speech2seq' | 'vision';
  readonly exporter: 'torchscript' | 'dynamo';
  readonly opset: number;
  readonly forms: readonly string[];
  readonly blocks: number;
  readonly cross_blocks: number;
  readonly heads: number;
  readonly kv_heads: number;
  readonly head_dim: number;
  readonly cache: boolean;
  readonly dynamic_shapes: boolean;
}

export interface ExpectedFailure {
  /** Where it fails: `inspect` (sites, heads, cache) or `compile` (exit or error bound). */
  readonly stage: 'inspect' | 'compile';
  /** The attention form that is not handled yet, as issue 13 names it. */
  readonly form: string;
  /** The exact verdict the model gets today. */
  readonly verdict: string;
  /** What in the graph makes it fail, as far as `inspect --explain` shows. */
  readonly why: string;
}

export function zooModels(): ZooMeta[] {
  return readdirSync(ZOO)
    .filter((d) => existsSync(join(ZOO, d, 'meta.json')))
    .sort()
    .map((d) => JSON.parse(readFileSync(join(ZOO, d, 'meta.json'), 'utf8')) as ZooMeta);
}

export function expectedFailures(): Record<string, ExpectedFailure> {
  const doc = JSON.parse(readFileSync(join(ROOT, EXPECTED_FAILURES_FILE), 'utf8')) as { models: Record<string, ExpectedFailure> };
  return doc.models;
}

/** The rule set a zoo model is compiled with: the cache's for decoders, per-head Q/K/V otherwise. */
export const rulesFor = (m: ZooMeta): string => (m.cache ? 'fp8-kv-head' : 'fp8-head');

/**
 * The first way `inspect` disagrees with meta.json, or 'ok'. An exit-1 error is reduced to its
 * reason (the text after the site name, before the parenthesis that names edges).
 */
export function inspectVerdict(m: ZooMeta): string {
  let scan;
  try {
    scan = scanModelFile(join(ZOO, m.name, 'model.onnx'));
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    const reason = /^attention site [^:]+: ([^(.;]+)/.exec(text)?.[1]?.trim() ?? text.split('\n')[0]!;
    return `error: ${reason}`;
  }
  const { sites } = scan;
  if (sites.length !== m.blocks) return `sites ${sites.length} of ${m.blocks}`;
  const cross = sites.filter((s) => s.kind === 'cross').length;
  if (cross !== m.cross_blocks) return `cross-attention sites ${cross} of ${m.cross_blocks}`;
  for (const s of sites) {
    const got = `${s.numHeads}/${s.numKvHeads}/${s.headDim}`;
    const want = `${m.heads}/${m.kv_heads}/${m.head_dim}`;
    if (got !== want) return `heads/kv/dim ${got} at layer ${s.layer}, want ${want}`;
  }
  const linked = sites.filter((s) => s.cache !== null);
  if (!m.cache) return linked.length === 0 ? 'ok' : `cache linked on ${linked.length} sites of a model without one`;
  if (linked.length !== sites.length) return `cache linked on ${linked.length} of ${sites.length} sites`;
  for (const s of sites) {
    const c = s.cache!;
    const want = [`past_key_values.${s.layer}.key`, `present.${s.layer}.key`, `past_key_values.${s.layer}.value`, `present.${s.layer}.value`];
    const got = [c.pastKey, c.presentKey ?? '(none)', c.pastValue, c.presentValue ?? '(none)'];
    if (got.join() !== want.join()) return `cache of layer ${s.layer} links ${got.join(' ')}`;
  }
  return 'ok';
}

/**
 * The largest error an honest float8 (e4m3) quantization leaves on a zoo output, as a relative
 * RMS error ‖quantized − float‖ / ‖float‖: e4m3 rounds each value with a relative error of at
 * most 2⁻⁴ (3 mantissa bits), and attention mixes values, it does not amplify their relative
 * error. Measured on the zoo: at most 0.045 (gemma3, softcapped logits). A scale that clips
 * (calibrated on the wrong head, or too small) is far above it: tests/zoo/compile-*.test.ts
 * shows one.
 */
export const FP8_ERROR_BOUND = 2 ** -4;

export interface OutputError {
  readonly output: string;
  readonly set: number;
  readonly relRms: number;
}

/** Relative RMS error of every output of `candidate` (a file, or a model's bytes) on the model's test sets, against output_K.pb. */
export async function outputErrors(m: ZooMeta, candidate: string | Uint8Array): Promise<OutputError[]> {
  const session = await createSession(candidate, { intraOpThreads: 1 });
  const errors: OutputError[] = [];
  try {
    for (const [set, dir] of testDataSets(join(ZOO, m.name)).entries()) {
      const inputs = readTensors(dir, 'input');
      const want = readTensors(dir, 'output');
      const feeds = Object.fromEntries(session.inputNames.map((n, i) => [n, toOrtTensor(inputs[i]!)]));
      const got = await session.run(feeds);
      session.outputNames.forEach((name, i) => {
        const g = ortToFloat64(got[name]!);
        const w = want[i]!.toFloat32();
        let num = 0;
        let den = 0;
        for (let k = 0; k < w.length; k++) {
          num += (g[k]! - w[k]!) ** 2;
          den += w[k]! ** 2;
        }
        errors.push({ output: name, set, relRms: g.length === w.length ? Math.sqrt(num / den) : Infinity });
      });
    }
  } finally {
    await session.release();
  }
  return errors;
}

export function errorVerdict(errors: readonly OutputError[]): string {
  const worst = errors.reduce((a, b) => (b.relRms > a.relRms ? b : a));
  return worst.relRms <= FP8_ERROR_BOUND ? 'ok' : `${worst.output} set ${worst.set}: relative RMS error ${worst.relRms.toPrecision(2)} > ${FP8_ERROR_BOUND}`;
}

/**
 * Compile the model with its rule set, calibrated on its own sets, into a fresh folder; the
 * verdict on the outputs, and the folder (the caller removes it).
 */
export async function compileVerdict(m: ZooMeta): Promise<{ verdict: string; outDir: string; errors: OutputError[] }> {
  const outDir = mkdtempSync(join(tmpdir(), `ctc-zoo-${m.name}-`));
  rmSync(outDir, { recursive: true });
  try {
    await compile({ model: join(ZOO, m.name, 'model.onnx'), rules: rulesFor(m), outDir, ...quiet });
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    return { verdict: `compile: ${text.split('\n')[0]!.replace(join(ZOO, m.name), '<model>')}`, outDir, errors: [] };
  }
  const errors = await outputErrors(m, join(outDir, 'model.onnx'));
  return { verdict: errorVerdict(errors), outDir, errors };
}

/**
 * One test per model of `models`: compile succeeds and the outputs stay within the fp8 bound,
 * or, for a model listed at the compile stage, it still fails exactly as recorded.
 */
export function compileTests(models: readonly ZooMeta[], failing: Record<string, ExpectedFailure>, it: (name: string, fn: () => Promise<void>) => void, expect: ExpectFn): void {
  for (const m of models) {
    const known = failing[m.name];
    if (known?.stage === 'inspect') continue; // inspect.test.ts pins it down; compile would refuse or quantize less
    it(`${m.name} × ${rulesFor(m)}${known ? ` (expected to fail: ${known.form})` : ''}`, async () => {
      const { verdict, outDir } = await compileVerdict(m);
      rmSync(outDir, { recursive: true, force: true });
      if (known) expect(verdict, `${m.name} no longer fails as ${EXPECTED_FAILURES_FILE} records: if it is fixed, remove its entry`).toBe(known.verdict);
      else expect(verdict).toBe('ok');
    });
  }
}

type ExpectFn = (actual: unknown, message?: string) => { toBe(expected: unknown): void };
