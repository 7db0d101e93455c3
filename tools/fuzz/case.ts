/**
 * One fuzz case, a pure function of (campaign seed, case index): the files to lay out in an
 * empty folder and the ctc command line to run there.
 *
 *   seed model ─▶ mutated bytes (none | raw bytes | protobuf fields) ─▶ m/model.onnx
 *   command ─▶ argv from the real CLI contract, some options with wrong values or missing paths
 *   side files ─▶ data sets beside the model or under data/, stats files, rule files
 */
import type { Seed } from './corpus.js';
import { mutateBytes } from './mutate-bytes.js';
import { mutateProto } from './mutate-proto.js';
import type { Rng } from './rng.js';
import { caseRng } from './rng.js';
import { BUILTIN_RULES, damagedInput, ruleFile, statsFile } from './side-files.js';

export type Command = 'inspect' | 'compile-stats' | 'compile-random' | 'compile-data' | 'eval' | 'rules' | 'junk';

export interface FuzzCase {
  readonly index: number;
  readonly command: Command;
  readonly seed: string;
  /** Relative path -> contents; folders are created as needed. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly argv: readonly string[];
  /** What was mutated, for the finding's report. */
  readonly what: readonly string[];
}

const MODEL = 'm/model.onnx';

/** How often each command runs: cheap paths (no onnxruntime) most of the time. */
const MIX: readonly (readonly [number, Command])[] = [
  [34, 'inspect'],
  [34, 'compile-stats'],
  [9, 'compile-random'],
  [9, 'compile-data'],
  [5, 'eval'],
  [3, 'rules'],
  [6, 'junk'],
];

function mutatedModel(rng: Rng, seed: Seed, corpus: readonly Seed[], what: string[], intact = 2): Uint8Array {
  const how = rng.weighted([
    [intact, 'none'],
    [3, 'bytes'],
    [5, 'proto'],
  ] as const);
  if (how === 'none') return seed.model;
  if (how === 'proto') {
    const r = mutateProto(rng, seed.model);
    if (r) {
      what.push(r.what);
      return r.bytes;
    }
  }
  const r = mutateBytes(rng, seed.model, corpus.map((s) => s.model));
  what.push(r.what);
  return r.bytes;
}

/** Copy the seed's data sets under `dir`, maybe damaging one input file. */
function placeSets(rng: Rng, seed: Seed, dir: string, files: Map<string, Uint8Array>, what: string[]): void {
  const damage = seed.sets.length > 0 && rng.chance(0.3) ? rng.int(0, seed.sets.length - 1) : -1;
  seed.sets.forEach((s, i) => {
    const victim = i === damage && s.inputs.length > 0 ? rng.int(0, s.inputs.length - 1) : -1;
    s.inputs.forEach((b, k) => {
      let bytes = b;
      if (k === victim) {
        const r = damagedInput(rng, b);
        what.push(`${s.name}/input_${k}.pb ${r.what}`);
        bytes = r.bytes;
      }
      files.set(`${dir}/${s.name}/input_${k}.pb`, bytes);
    });
  });
}

/** Sometimes replace a path argument with one that is wrong in a way users manage. */
function maybeBadPath(rng: Rng, path: string, p = 0.06): string {
  if (!rng.chance(p)) return path;
  return rng.pick(['missing.onnx', 'm', '', '/dev/null', 'm/', './m/../m/model.onnx', 'm/test_data_set_0/input_0.pb', '-', 'm/model.onnx/x']);
}

const RANGES = ['0', '0-1', '1-0', '0-3', '3', '0,2', 'x', '', '-1', '0-99', '00', ' 1 ', '0-', '1,1', '4294967296', '0-100000000'];
const COUNTS = ['1', '2', '0', '-1', 'abc', '1.5', '1e9', 'NaN', 'Infinity', ''];
const THREADS = ['1', '2', '0', '-3', '1.5', 'abc', '100000', '1e12'];

function rulesArg(rng: Rng, files: Map<string, Uint8Array>, what: string[]): { arg: string; base: string } {
  const base = rng.pick(BUILTIN_RULES);
  const r = rng.weighted([
    [8, 'builtin'],
    [3, 'file'],
    [1, 'unknown'],
  ] as const);
  if (r === 'builtin') return { arg: base, base };
  if (r === 'unknown') return { arg: rng.pick(['fp8', 'fp16-head', '', 'r.json', 'm/model.onnx', 'rules/../fp8-head']), base };
  const f = ruleFile(rng, base);
  what.push(f.what);
  files.set('r.json', f.bytes);
  return { arg: 'r.json', base };
}

/** Options every compile may carry: output, observer, ep, threads, save-stats, flags. */
function compileTail(rng: Rng, seed: Seed): string[] {
  const a: string[] = [];
  const out = rng.weighted([
    [12, ['-o', 'out']],
    [1, []],
    [1, ['-o', '']],
    [1, ['-o', 'm']],
    [1, ['-o', 'm/model.onnx']],
    [1, ['-o', 'out', '-o', 'out2']],
    [1, ['-o', 'no/such/deep/dir']],
    [1, ['-o', '/dev/null']],
  ] as const);
  a.push(...out);
  if (rng.chance(0.85)) a.push('--quiet');
  if (rng.chance(0.15)) a.push('--json');
  if (rng.chance(0.1)) a.push('--force');
  if (rng.chance(0.1)) a.push('--external-data');
  if (rng.chance(0.15)) a.push('--observer', rng.pick(['static_minmax', 'minmax', 'memoryless_minmax', 'mse', 'mse', 'bogus']));
  if (rng.chance(0.08)) a.push('--ep', rng.pick(['cpu', 'CPU', 'cuda,cpu', 'cpu,cpu', 'tpu', '', ',']));
  if (rng.chance(0.08)) a.push('--threads', rng.pick(THREADS));
  if (rng.chance(0.1)) a.push('--save-stats', rng.pick(['saved.json', 'saved.json', 'm/model.onnx', 'm', 'no/dir/s.json', '/dev/null', '']));
  if (rng.chance(0.08)) a.push('--strip-prefix', rng.pick(['model.', '', 'x', '/', seed.name]));
  if (rng.chance(0.02)) a.push(rng.pick(['--bogus', '--rules', '--calib-sets=0', '--dim', '-q', '--', '--help']));
  return a;
}

export function makeCase(campaignSeed: number, index: number, corpus: readonly Seed[]): FuzzCase {
  const rng = caseRng(campaignSeed, index);
  const command = rng.weighted(MIX);
  const seed = rng.weighted(corpus.map((s) => [s.weight, s] as const));
  const files = new Map<string, Uint8Array>();
  const what: string[] = [];
  const argv: string[] = [];

  if (command === 'rules') {
    const { arg } = rulesArg(rng, files, what);
    argv.push('rules', ...(rng.chance(0.2) ? [] : [arg]));
    return { index, command, seed: seed.name, files, argv, what };
  }
  if (command === 'junk') {
    // Tokens of the real contract in random order and number.
    files.set(MODEL, seed.model);
    const vocab = ['inspect', 'compile', 'eval', 'rules', 'bogus', MODEL, MODEL, '--rules', 'fp8-head', '-o', 'out', '--json', '--explain', '--calib', 'm', '--calib-sets', '0', '--calib-random', '1', '--dim', 'batch=1', '--stats', 's.json', '--sets', '--data', '--observer', 'mse', '--ep', 'cpu', '--threads', '--force', '--quiet', '-q', '--', '-', '', '--save-stats', '--strip-prefix', '--external-data', '--version', '-V', '--no-json', '--rules=fp8-head', '-o=out', '--debug'];
    const n = rng.int(0, 8);
    for (let k = 0; k < n; k++) argv.push(rng.pick(vocab));
    if (argv.includes('--help') || argv.includes('-h')) argv.splice(0, argv.length, 'rules');
    return { index, command, seed: seed.name, files, argv, what };
  }

  // The onnxruntime paths are the slow ones: give them more intact models to get through.
  const model = mutatedModel(rng, seed, corpus, what, command === 'compile-random' || command === 'compile-data' ? 4 : 2);
  files.set(MODEL, model);
  const modelArg = maybeBadPath(rng, MODEL);

  if (command === 'inspect') {
    argv.push('inspect', modelArg);
    if (rng.chance(0.4)) argv.push('--json');
    if (rng.chance(0.4)) argv.push('--explain');
    return { index, command, seed: seed.name, files, argv, what };
  }

  if (command === 'eval') {
    placeSets(rng, seed, 'm', files, what);
    const other = rng.weighted([
      [5, 'same'],
      [3, 'mutated'],
      [1, 'unrelated'],
    ] as const);
    const cand = other === 'same' ? seed.model : other === 'mutated' ? mutatedModel(rng, seed, corpus, what) : rng.pick(corpus).model;
    files.set('c/model.onnx', cand);
    argv.push('eval', modelArg, maybeBadPath(rng, 'c/model.onnx'));
    if (rng.chance(0.3)) argv.push('--sets', rng.pick(RANGES));
    if (rng.chance(0.1)) argv.push('--data', rng.pick(['m', 'm/test_data_set_0', 'nope', 'c']));
    if (rng.chance(0.8)) argv.push('--quiet');
    if (rng.chance(0.2)) argv.push('--json');
    return { index, command, seed: seed.name, files, argv, what };
  }

  const rules = rulesArg(rng, files, what);
  argv.push('compile', modelArg, '--rules', rules.arg);

  if (command === 'compile-stats') {
    const two = seed.sets.length > 1 && rng.chance(0.25);
    const s1 = statsFile(rng, seed, rules.base, model, 0, two ? 1 : Math.max(1, seed.sets.length));
    what.push(s1.what);
    files.set('s.json', s1.bytes);
    argv.push('--stats', maybeBadPath(rng, 's.json', 0.04));
    if (two) {
      const s2 = statsFile(rng, seed, rules.base, model, rng.chance(0.8) ? 1 : 0, 1);
      what.push(s2.what);
      files.set('s2.json', s2.bytes);
      argv.push('s2.json');
    }
    if (rng.chance(0.03)) argv.push(rng.pick(['--calib-sets', '--calib-random']), '1');
  } else if (command === 'compile-random') {
    argv.push('--calib-random', rng.chance(0.85) ? rng.pick(['1', '1', '2']) : rng.pick(COUNTS));
    for (const d of seed.dims) {
      if (rng.chance(0.08)) continue;
      argv.push('--dim', rng.chance(0.9) ? d : d.replace(/=.*/, `=${rng.pick(['0', '-1', 'x', '', '1e3', '99999999999', '4294967297'])}`));
    }
    if (rng.chance(0.05)) argv.push('--dim', rng.pick(['unknown=3', 'batch', '=4', 'batch=1=2']));
  } else {
    // compile-data: the sets beside the model, or --calib folders; some --calib-sets.
    const where = rng.weighted([
      [3, 'beside'],
      [2, 'calib'],
      [1, 'one-set'],
    ] as const);
    placeSets(rng, seed, where === 'beside' ? 'm' : 'data', files, what);
    if (where === 'calib') argv.push('--calib', maybeBadPath(rng, 'data', 0.1));
    if (where === 'one-set') argv.push('--calib', 'data/test_data_set_0');
    if (rng.chance(0.35)) argv.push('--calib-sets', rng.pick(RANGES));
  }
  argv.push(...compileTail(rng, seed));
  return { index, command, seed: seed.name, files, argv, what };
}
