/**
 * Never lose a byte: `ctc compile` run from the command line against inputs and outputs that
 * overlap. Every case checks the user's input files byte for byte afterwards, and every output
 * weight against the input's, read back independently through the model loader.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SHAPES, generateLlama } from '../../corpus/generators/llama.js';
import { loadModel, saveModel } from '../../src/onnx/model-file.js';
import { ctc } from '../harness/cli.js';
import type { CliResult } from '../harness/cli.js';
import { CLI, ROOT, corpusModel } from '../harness/paths.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-writes-'));
const LLAMA = corpusModel('llama-gqa-bytes-ts-eager');
const GPT2 = corpusModel('gpt2-bytes-ts-eager');
const DIMS = ['--dim', 'batch=1', '--dim', 'seq=4', '--dim', 'total_seq=7', '--dim', 'past_seq=3'];

/**
 * A tiny Llama whose large weights (≥ 10,000 bytes) live in `location` beside the model, and
 * whose mid-size ones (k/v projections, 8 KiB) stay inline, so that --external-data has
 * something to move into OUTDIR/model.onnx.data.
 */
function externalModel(dir: string, location: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.onnx');
  const { model } = generateLlama(SHAPES['tiny']!, { form: 'decomposed', weights: 'inline' });
  saveModel(model, file, { externalize: { location, threshold: 10_000 } });
  return file;
}

/** Every initializer's bytes, by name, as the model loader reads them (external data included). */
function weights(modelFile: string): Map<string, Buffer> {
  return new Map(loadModel(modelFile).graph.initializers.map((v) => [v.name, Buffer.from(v.initializer!.bytes())]));
}

/** The input's weights are all in the output, byte for byte. */
function expectSameWeights(input: Map<string, Buffer>, outputModel: string): void {
  const out = weights(outputModel);
  const differ = [...input].filter(([name, bytes]) => !out.get(name)?.equals(bytes)).map(([name]) => name);
  expect(differ).toEqual([]);
}

function snapshot(files: readonly string[]): Map<string, Buffer> {
  return new Map(files.map((f) => [f, readFileSync(f)]));
}

function expectUnchanged(before: Map<string, Buffer>): void {
  for (const [f, bytes] of before) expect(readFileSync(f).equals(bytes), f).toBe(true);
}

describe('the three data-loss cases of issue 9', () => {
  it('--save-stats onto the input model is refused, naming both, and the model is untouched', async () => {
    const d = tmp();
    cpSync(join(LLAMA, '..', 'model.onnx'), join(d, 'model.onnx'));
    cpSync(join(LLAMA, '..', 'test_data_set_0'), join(d, 'test_data_set_0'), { recursive: true });
    const model = join(d, 'model.onnx');
    const before = snapshot([model]);
    const r = await ctc('compile', model, '--rules', 'fp8-head', '-o', join(d, 'out'), '--save-stats', model);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`--save-stats ${model}`);
    expect(r.stderr).toMatch(/would overwrite the input model/);
    expectUnchanged(before);
  });

  it('input weights in model.onnx.data, compiled with --external-data: input and output weights are all intact', async () => {
    const d = tmp();
    const model = externalModel(join(d, 'in'), 'model.onnx.data');
    const before = snapshot([model, join(d, 'in', 'model.onnx.data')]);
    const input = weights(model);
    const r = await ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, 'out'), '-q', '--external-data');
    expect(r.code, r.stderr).toBe(0);
    expectUnchanged(before);
    expectSameWeights(input, join(d, 'out', 'model.onnx'));
    // the source keeps a single link: every ONNX loader still accepts it
    expect(statSync(join(d, 'in', 'model.onnx.data')).nlink).toBe(1);
  });

  for (const location of ['scales.json', 'quantization_config.json']) {
    it(`input weights in an external file named ${location}: the JSON output does not replace them`, async () => {
      const d = tmp();
      const model = externalModel(join(d, 'in'), location);
      const before = snapshot([model, join(d, 'in', location)]);
      const input = weights(model);
      const r = await ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, 'out'), '-q');
      expect(r.code, r.stderr).toBe(0);
      expectUnchanged(before);
      expectSameWeights(input, join(d, 'out', 'model.onnx'));
      // and the JSON output is still the JSON it should be
      const json = JSON.parse(readFileSync(join(d, 'out', location), 'utf8'));
      expect(location === 'scales.json' ? json['model.layers.0.self_attn.k_scale'].shape : json.quant_method).toEqual(location === 'scales.json' ? [2, 1, 1] : 'compressed-tensors');
    });
  }
});

describe('every write is checked against every read, before any work', () => {
  /** A model folder of one's own: the corpus Llama and its first calibration set. */
  function modelFolder(): { d: string; model: string; set: string } {
    const d = tmp();
    cpSync(join(LLAMA, '..', 'model.onnx'), join(d, 'model.onnx'));
    cpSync(join(LLAMA, '..', 'test_data_set_0'), join(d, 'test_data_set_0'), { recursive: true });
    return { d, model: join(d, 'model.onnx'), set: join(d, 'test_data_set_0') };
  }
  /** Refused with exit 1 before calibration started, nothing written, every input unchanged. */
  function expectRefused(r: CliResult, message: RegExp, before: Map<string, Buffer>, out: string): void {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/calibrating/);
    expectUnchanged(before);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(out, '..')).filter((f) => f.includes('ctc-staging'))).toEqual([]);
  }

  it('--save-stats onto an input by another name, or onto something that is no regular file', async () => {
    const { d, model, set } = modelFolder();
    const before = snapshot([model, join(set, 'input_0.pb')]);
    const out = join(d, 'out');
    const run = (...more: string[]): Promise<CliResult> => ctc('compile', model, '--rules', 'fp8-head', '-o', out, ...more);
    symlinkSync(model, join(d, 'link.json'));
    expectRefused(await run('--save-stats', join(d, 'link.json')), /--save-stats \S+link\.json would overwrite the input model \S+model\.onnx \(the same file, through the symbolic link/, before, out);
    linkSync(model, join(d, 'hard.json'));
    expectRefused(await run('--save-stats', join(d, 'hard.json')), /--save-stats \S+hard\.json would overwrite the input model \S+model\.onnx \(the same file, by hard link\)/, before, out);
    expectRefused(await run('--save-stats', join(set, 'input_0.pb')), /would overwrite calibration data \S+input_0\.pb/, before, out);
    expectRefused(await run('--save-stats', '/dev/full'), /--save-stats \/dev\/full is a character device, not a regular file/, before, out);
    execFileSync('mkfifo', [join(d, 'fifo')]);
    expectRefused(await run('--save-stats', join(d, 'fifo')), /is a FIFO \(named pipe\), not a regular file/, before, out);
    symlinkSync(join(d, 'elsewhere.json'), join(d, 'dangling.json'));
    expectRefused(await run('--save-stats', join(d, 'dangling.json')), /dangling\.json is a symbolic link \(to \S+elsewhere\.json\); ctc writes only regular files and new paths/, before, out);
    expect(existsSync(join(d, 'elsewhere.json'))).toBe(false);
    expectRefused(await run('--save-stats', join(out, 'scales.json')), /--save-stats \S+scales\.json is also the output file \S+out\/scales\.json/, before, out);
  });

  it('--force never replaces an input: a rule file, a --stats file or weights inside OUTDIR', async () => {
    const { d, model, set } = modelFolder();
    const out = join(d, 'out');
    mkdirSync(out);
    cpSync(model, join(out, 'model.onnx'));
    // the rule file lives in OUTDIR under an output's name
    cpSync(join(ROOT, 'rules', 'fp8-head.json'), join(out, 'scales.json'));
    writeFileSync(join(out, 'quantization_config.json'), '{"format": "ctc-stats/1"}');
    const before = snapshot([model, join(set, 'input_0.pb'), join(out, 'model.onnx'), join(out, 'scales.json'), join(out, 'quantization_config.json')]);
    let r = await ctc('compile', model, '--rules', join(out, 'scales.json'), '-o', out, '--force');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`-o ${out}: ${join(out, 'scales.json')} would overwrite the rule file ${join(out, 'scales.json')} (the same file); ctc never writes over an input, not even with --force`);
    r = await ctc('compile', model, '--rules', 'fp8-head', '--stats', join(out, 'quantization_config.json'), '-o', out, '--force');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`would overwrite the --stats file ${join(out, 'quantization_config.json')}`);
    expectUnchanged(before);
    expect(readdirSync(out).sort()).toEqual(['model.onnx', 'quantization_config.json', 'scales.json']);

    // an earlier output's data file, hard-linked to the input's (as ctc once made them)
    const e = tmp();
    const ext = externalModel(join(e, 'in'), 'model.onnx.data');
    mkdirSync(join(e, 'out'));
    linkSync(join(e, 'in', 'model.onnx.data'), join(e, 'out', 'model.onnx.data'));
    const extBefore = snapshot([ext, join(e, 'in', 'model.onnx.data')]);
    r = await ctc('compile', ext, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(e, 'out'), '--force');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/out\/model\.onnx\.data would overwrite external data of the input model \(model\.onnx\.data\) \S+in\/model\.onnx\.data \(the same file, by hard link\)/);
    expectUnchanged(extBefore);
  });

  it('a stale model.onnx.data of an earlier --external-data output is removed, never left to be read', async () => {
    const d = tmp();
    const out = join(d, 'out');
    expect((await ctc('compile', GPT2, '--rules', 'int8-head', '--calib-sets', '0', '-o', out, '-q', '--external-data')).code).toBe(0);
    expect(existsSync(join(out, 'model.onnx.data'))).toBe(true);
    const r = await ctc('compile', GPT2, '--rules', 'int8-head', '--calib-sets', '0', '-o', out, '-q', '--force');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['compile.json', 'model.onnx', 'quantization_config.json', 'scales.json']);
    // the new model has its weights inline and loads alone
    expect(loadModel(join(out, 'model.onnx')).graph.initializers.every((v) => !v.initializer!.isExternal())).toBe(true);
  });
});

describe('the input weights are copied (or reflinked), hard-linked only on request', () => {
  it('by default both files keep one link; --link-weights hardlink links, and the output says what it costs', async () => {
    const d = tmp();
    const model = externalModel(join(d, 'in'), 'weights.bin');
    const source = join(d, 'in', 'weights.bin');
    const input = weights(model);
    const compile = async (out: string, ...more: string[]): Promise<{ method: string; stdout: string }> => {
      const r = await ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, out), '-q', ...more);
      expect(r.code, r.stderr).toBe(0);
      const j = await ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(d, `${out}-json`), '--json', ...more);
      expect(j.code, j.stderr).toBe(0);
      const external = JSON.parse(j.stdout).output.external;
      expect(external).toEqual([{ location: 'weights.bin', method: expect.any(String), bytes: statSync(source).size }]);
      expectSameWeights(input, join(d, out, 'model.onnx'));
      return { method: external[0].method, stdout: r.stdout };
    };

    const copied = await compile('copy');
    expect(['copy', 'reflink']).toContain(copied.method);
    expect(copied.stdout).toMatch(new RegExp(`external data weights\\.bin \\(0\\.\\d MiB\\) placed by ${copied.method}`));
    expect(statSync(join(d, 'copy', 'weights.bin')).ino).not.toBe(statSync(source).ino);
    expect([statSync(source).nlink, statSync(join(d, 'copy', 'weights.bin')).nlink, statSync(join(d, 'copy-json', 'weights.bin')).nlink]).toEqual([1, 1, 1]);

    const hard = await compile('hard', '--link-weights', 'hardlink');
    expect(hard.method).toBe('hardlink');
    expect(hard.stdout).toMatch(/placed by hard link to \S+weights\.bin: both names are one file now, and onnx>=1\.17's loader refuses files with several links/);
    expect(statSync(join(d, 'hard', 'weights.bin')).ino).toBe(statSync(source).ino);
    expect(statSync(source).nlink).toBe(3); // the source, hard/ and hard-json/

  });
});

/** Run the built CLI as a child process that the test can signal; resolves when it exits. */
function start(args: readonly string[]): { child: ChildProcess; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.on('close', (code, signal) => ok({ code, signal })));
  return { child, stderr: () => err, exit };
}

describe('one compile per output folder; a signal leaves nothing behind', () => {
  it('two compiles into the same new -o at once: one wins, the other exits 1 and writes nothing', async () => {
    const d = tmp();
    const out = join(d, 'out');
    const args = ['compile', GPT2, '--rules', 'int4-kv-head', '--calib-sets', '0-3', '-o', out, '-q'];
    const [a, b] = [start(args), start(args)];
    const results = await Promise.all([a.exit, b.exit]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    const loser = results[0]!.code === 1 ? a : b;
    expect(loser.stderr()).toMatch(/another ctc compile \(process \d+ on \S+\) is writing this output folder|already holds a model\.onnx|was created by another process while this compile ran/);
    // the winner's output is whole: the same bytes as a compile alone
    expect(readdirSync(out).sort()).toEqual(['compile.json', 'model.onnx', 'quantization_config.json', 'scales.json']);
    expect((await ctc(...args.slice(0, -3), '-o', join(d, 'alone'), '-q')).code).toBe(0);
    for (const f of ['model.onnx', 'scales.json']) expect(readFileSync(join(out, f)).equals(readFileSync(join(d, 'alone', f))), f).toBe(true);
    expect(readdirSync(d).sort()).toEqual(['alone', 'out']);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} during calibration removes the staging folder and ends the compile`, async () => {
      const d = tmp();
      const out = join(d, 'out');
      const run = start(['compile', LLAMA, '--rules', 'fp8-head', '--calib-random', '100000', ...DIMS, '-o', out]);
      // wait until calibration is under way (the staging folder exists by then)
      while (!/calibrating: 1\//.test(run.stderr())) {
        if (run.child.exitCode !== null) throw new Error(`exited early: ${run.stderr()}`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
      expect(readdirSync(d)).toEqual(['.out.ctc-staging']);
      run.child.kill(signal);
      const r = await run.exit;
      // it dies of the signal, as a shell sees it (130 and 143)
      expect(r.signal).toBe(signal);
      expect(run.stderr()).toContain(`interrupted by ${signal}: removed the unfinished output ${join(d, '.out.ctc-staging')}; nothing was written to ${out}`);
      expect(readdirSync(d)).toEqual([]);
    });
  }
});

/**
 * Command lines run one after another by the built CLI's main() in one process that permissions
 * bind: when the tests run as root, without the two capabilities that override file permissions
 * (setpriv drops them from the bounding set), so that, still uid 0, it is denied what the owner
 * bits deny and can still read the checkout wherever that lies (a clone inside mktemp -d's 0700
 * folder is out of reach for another uid); otherwise as the user running the tests. One node
 * start and module load for all of them, not one per command line.
 */
function asUser(runs: readonly (readonly string[])[]): CliResult[] {
  const script = `
    import { readFileSync } from 'node:fs';
    import { main } from ${JSON.stringify(pathToFileURL(CLI).href)};
    const results = [];
    for (const argv of JSON.parse(readFileSync(0, 'utf8'))) {
      let stdout = '';
      let stderr = '';
      const code = await main(argv, { stdout: { write: (t) => (stdout += t) }, stderr: { write: (t) => (stderr += t) } });
      results.push({ code, stdout, stderr });
    }
    process.stdout.write(JSON.stringify(results));`;
  const node = [process.execPath, '--input-type=module', '-e', script];
  const options = { input: JSON.stringify(runs), encoding: 'utf8' } as const;
  const r = process.getuid?.() === 0 ? spawnSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', ...node], options) : spawnSync(node[0]!, node.slice(1), options);
  if (r.status !== 0) throw new Error(`the permission-bound process failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CliResult[];
}

describe('environment errors are exit 1 with the fix, found before calibration', () => {
  const run = (...args: string[]): Promise<CliResult> => ctc('compile', GPT2, '--rules', 'fp8-head', '--calib-sets', '0', '-q', ...args);
  const refused = (r: CliResult, message: string | RegExp): void => {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error/);
  };

  it('an output folder that cannot be made: under a file, under /proc, immutable', async () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), 'x');
    refused(await run('-o', join(d, 'file', 'out')), `-o ${join(d, 'file', 'out')}: ${join(d, 'file')} is a file, not a folder; choose another path`);
    refused(await run('-o', join(d, 'file')), /exists and is not a folder/);
    refused(await run('-o', '/proc/ctc-out'), /-o \/proc\/ctc-out: cannot create the staging folder \/proc\/\.ctc-out\.ctc-staging \(ENOENT\); choose a folder on a writable disk/);
    refused(await run('-o', '/proc/ctc-out/deeper'), /cannot create the folder \/proc\/ctc-out \(ENOENT\)/);
    // immutable (chattr +i): refused even for root
    const locked = join(d, 'locked');
    mkdirSync(locked);
    execFileSync('chattr', ['+i', locked]);
    try {
      refused(await run('-o', join(locked, 'out')), /locked\/\.out\.ctc-staging: cannot create the staging folder \(EPERM\): not permitted \(an immutable file or folder/);
      refused(await run('-o', join(d, 'o'), '--save-stats', join(locked, 's.json')), /locked: cannot create files in \(EPERM\)/);
    } finally {
      execFileSync('chattr', ['-i', locked]);
    }
    expect(readdirSync(d).sort()).toEqual(['file', 'locked']);
  });

  it('a full disk: refused up front when the output cannot fit, exit 1 when a write runs out of space', async () => {
    const d = tmp();
    const disk = join(d, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
    try {
      // GPT-2's 8 MB model does not fit in 256 KiB
      refused(await run('-o', join(disk, 'out')), `-o ${join(disk, 'out')}: the output needs about 8.1 MiB, and only 0.2 MiB are free there; free some space or write to another disk with -o`);
      // nor do the input's weights (0.4 MiB) to copy
      const model = externalModel(join(d, 'in'), 'weights.bin');
      const r = await ctc('compile', model, '--rules', 'fp8-head', '--calib-random', '1', ...DIMS, '-o', join(disk, 'out'));
      refused(r, /only 0\.2 MiB are free there; free some space or write to another disk with -o \(0\.4 MiB of it are the copy of the input's external data: --link-weights avoids that/);
      expect(r.stderr).not.toMatch(/calibrating/);
      expect(readdirSync(disk)).toEqual([]);
      // a disk that fills up while ctc writes: the write fails, its temporary goes, exit 1
      expect(() => writeFileSync(join(disk, 'fill'), Buffer.alloc(2 ** 21))).toThrow(/ENOSPC/);
      refused(await run('-o', join(d, 'o'), '--save-stats', join(disk, 'stats.json')), `${join(disk, 'stats.json')}: cannot write (ENOSPC): the disk is full; free some space`);
      expect(readdirSync(disk)).toEqual(['fill']);
      expect(existsSync(join(d, 'o'))).toBe(false);
    } finally {
      execFileSync('umount', [disk]);
    }
  });

  it('a read-only file system: the output folder and --save-stats refused up front (EROFS)', async () => {
    const d = tmp();
    const disk = join(d, 'ro');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', disk]);
    try {
      const r = await run('-o', join(disk, 'out'));
      refused(r, `${join(disk, '.out.ctc-staging')}: cannot create the staging folder (EROFS): the file system is read-only; choose a folder on a writable disk`);
      expect(r.stderr).not.toMatch(/calibrating/);
      refused(await run('-o', join(d, 'o'), '--save-stats', join(disk, 's.json')), `${disk}: cannot create files in (EROFS): the file system is read-only`);
      expect(readdirSync(disk)).toEqual([]);
      expect(existsSync(join(d, 'o'))).toBe(false);
    } finally {
      execFileSync('umount', [disk]);
    }
  });

  it('permission denied, for reading and for writing (root without the capabilities that override permissions: root is never denied)', () => {
    const d = tmp();
    chmodSync(d, 0o755);
    const locked = join(d, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    const free = join(d, 'free');
    mkdirSync(free, { mode: 0o777 });
    chmodSync(free, 0o777);
    const base = ['compile', GPT2, '--rules', 'fp8-head', '--calib-sets', '0', '-q'];
    // Inputs ctc may not read: the model, a rule file, a calibration input.
    const model = join(d, 'model.onnx');
    cpSync(GPT2, model);
    chmodSync(model, 0o000);
    const rules = join(d, 'r.json');
    cpSync(join(ROOT, 'rules', 'fp8-head.json'), rules);
    chmodSync(rules, 0o000);
    const data = join(d, 'data', 'test_data_set_0');
    cpSync(join(GPT2, '..', 'test_data_set_0'), data, { recursive: true });
    chmodSync(join(d, 'data'), 0o755);
    chmodSync(data, 0o755);
    chmodSync(join(data, 'input_0.pb'), 0o000);
    const refusals: [readonly string[], string][] = [
      [[...base, '-o', join(locked, 'out')], `${join(locked, '.out.ctc-staging')}: cannot create the staging folder (EACCES): permission denied; choose a folder you may write to`],
      [[...base, '-o', join(free, 'o1'), '--save-stats', join(locked, 's.json')], `${locked}: cannot create files in (EACCES): permission denied`],
      [['inspect', model], `${model}: cannot read (EACCES): permission denied; make it readable to you (chmod a+r, or ask its owner)`],
      [['compile', GPT2, '--rules', rules, '--calib-sets', '0', '-o', join(free, 'o2')], `${rules}: cannot read (EACCES)`],
      [['compile', GPT2, '--rules', 'fp8-head', '--calib', join(d, 'data'), '-o', join(free, 'o3')], `${join(data, 'input_0.pb')}: cannot read (EACCES)`],
    ];
    const results = asUser(refusals.map(([args]) => args));
    expect(results.length).toBe(refusals.length);
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(refusals[i]![1]);
    });
    expect(readdirSync(locked)).toEqual([]);
    expect(readdirSync(free)).toEqual([]);
  });

  it('empty paths and options given twice', async () => {
    refused(await run('-o', ''), /-o "": name an output folder/);
    refused(await run('-o', join(tmp(), 'o'), '--save-stats', ''), /--save-stats "": name the file/);
    refused(await run('-o', 'a', '-o', 'b'), /--out was given 2 times \(a, b\); it takes one value: give it once/);
    refused(await ctc('compile', GPT2, '--rules', 'fp8-head', '--rules', 'int8-head', '-o', join(tmp(), 'o')), /--rules was given 2 times \(fp8-head, int8-head\)/);
    refused(await run('-o', join(tmp(), 'o'), '--calib-sets', '1'), /--calib-sets was given 2 times \(0, 1\)/);
    refused(await ctc('eval', GPT2, GPT2, '--sets', '8', '--sets', '9'), /--sets was given 2 times/);
  });
});
