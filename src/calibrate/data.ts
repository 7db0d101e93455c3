/**
 * Calibration and evaluation data in the ONNX test-data layout: `test_data_set_N/input_K.pb`
 * (TensorProto, inputs in graph order). Sets are found beside the model or in `--calib` /
 * `--data` folders, selected by number (`0-7`, `3`, `0-3,8`), and checked against the graph's
 * inputs before anything runs. Random inputs can be drawn from the declared types and shapes.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CalibrationError, UsageError, readFileChecked } from '../errors.js';
import type { Model } from '../ir/model.js';
import { Tensor } from '../ir/tensor.js';
import { shapeOf } from '../ir/types.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeInfo } from '../ir/dtypes.js';
import { decodeTensorFile } from '../onnx/serde.js';

export interface DataSet {
  /** A stable key: the set folder's name, with its parent when sets come from several folders. */
  readonly key: string;
  readonly dir: string;
  readonly number: number | undefined;
  /** The files it reads (none for random sets). */
  readonly files: readonly string[];
  /** Reads and checks the inputs (lazily: a set is read when it runs). */
  load(): Map<string, Tensor>;
}

/**
 * A selection of set numbers ("0-7", "3", "0-3,8") kept as intervals, so that a range of any
 * size costs nothing: `0-100000000` is two numbers, not a hundred million.
 */
export interface SetRange {
  readonly text: string;
  readonly intervals: readonly (readonly [number, number])[];
  has(n: number): boolean;
}

/** "0-7", "3", "0-3,8" -> the selection; `option` names the flag in the message. */
export function parseSetRange(text: string, option = '--calib-sets'): SetRange {
  const intervals: [number, number][] = [];
  for (const part of String(text).split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
    if (!m) throw new UsageError(`${option} ${text}: "${part}" is not a set number or range; write e.g. 0-7, 3 or 0-3,8`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new UsageError(`${option} ${text}: ${part} is past the largest set number ctc can name (${Number.MAX_SAFE_INTEGER})`);
    if (b < a) throw new UsageError(`${option} ${text}: the range ${part} runs backwards; write ${b}-${a}`);
    intervals.push([a, b]);
  }
  return { text, intervals, has: (n) => intervals.some(([a, b]) => n >= a && n <= b) };
}

/** Sorted distinct numbers -> "0-7, 9, 12-13". */
function spans(numbers: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    out.push(i === j ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** The parts of the selection's intervals that no found number covers, as "8-100000000, 20". */
function missingSpans(range: SetRange, found: ReadonlySet<number>): string {
  const sorted = [...found].sort((x, y) => x - y);
  const out: string[] = [];
  for (const [a, b] of range.intervals) {
    let next = a;
    for (const n of sorted) {
      if (n < next || n > b) continue;
      if (n > next) out.push(n - 1 === next ? `${next}` : `${next}-${n - 1}`);
      next = n + 1;
    }
    if (next <= b) out.push(next === b ? `${next}` : `${next}-${b}`);
  }
  return out.join(', ');
}

const setNumber = (dir: string): number | undefined => {
  const m = /^test_data_set_(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : undefined;
};

/** The set folders under `roots` (a root may itself be a set), in natural order. */
export function findSetDirs(roots: readonly string[], selected: SetRange | undefined): string[] {
  const dirs: string[] = [];
  for (const root of roots) {
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`${root}: no such data folder`);
    if (existsSync(join(root, 'input_0.pb'))) {
      dirs.push(resolve(root));
      continue;
    }
    const sets = readdirSync(root)
      .filter((d) => /^test_data_set_\d+$/.test(d))
      .sort((a, b) => setNumber(a)! - setNumber(b)!)
      .map((d) => resolve(join(root, d)));
    if (sets.length === 0) throw new UsageError(`${root}: no test_data_set_N folders (nor input_0.pb) in it`);
    dirs.push(...sets);
  }
  const chosen = selected === undefined ? dirs : dirs.filter((d) => selected.has(setNumber(d) ?? -1));
  if (selected !== undefined) {
    const found = new Set(chosen.map((d) => setNumber(d) ?? -1));
    const missing = missingSpans(selected, found);
    if (missing !== '') {
      const have = [...new Set(dirs.map((d) => setNumber(d)).filter((n) => n !== undefined))].sort((x, y) => x - y);
      throw new UsageError(`sets ${missing} are not in ${roots.join(', ')} (it has set${have.length === 1 ? '' : 's'} ${spans(have) || 'none by number'}); choose among those`);
    }
  }
  if (chosen.length === 0) throw new UsageError(`no data sets selected in ${roots.join(', ')}`);
  return chosen;
}

/** Graph inputs that need data (initializers with defaults do not). */
export function dataInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => v.initializer === undefined);
}

function describe(t: { dataType: number; dims: readonly (number | string | undefined)[] }): string {
  return `${dataTypeInfo(t.dataType).name}[${t.dims.map((d) => d ?? '?').join(', ')}]`;
}

/** Check one set's tensors against the graph inputs; the error names the set, input and expectation. */
export function checkInputs(model: Model, set: string, tensors: readonly Tensor[]): Map<string, Tensor> {
  const inputs = dataInputs(model);
  if (tensors.length < inputs.length) {
    throw new CalibrationError(`${set}: has ${tensors.length} input file(s), but the model takes ${inputs.length}: missing input_${tensors.length}.pb for "${inputs[tensors.length]!.name}"`);
  }
  const feeds = new Map<string, Tensor>();
  inputs.forEach((v, i) => {
    const t = tensors[i]!;
    const type = v.type?.kind === 'tensor' ? v.type : undefined;
    const shape = shapeOf(v.type);
    const expected = type ? describe({ dataType: type.elemType, dims: shape ?? [] }) : 'a tensor';
    const wrongType = type !== undefined && type.elemType !== t.dataType;
    const wrongRank = shape !== undefined && shape.length !== t.dims.length;
    const wrongDim = !wrongRank && shape !== undefined && shape.some((d, k) => typeof d === 'number' && d !== t.dims[k]);
    if (wrongType || wrongRank || wrongDim) {
      throw new CalibrationError(`${set}: input_${i}.pb is ${describe(t)}, but the model's input "${v.name}" expects ${expected}`);
    }
    const bad = firstNonFinite(t);
    if (bad !== undefined) {
      throw new CalibrationError(
        `${set}: input_${i}.pb ("${v.name}") element ${bad.index} (at [${unflatten(bad.index, t.dims).join(', ')}]) is ${bad.value}: ` +
          'calibration needs finite numbers (a NaN or infinity would become a NaN or infinite scale); fix this set or leave it out with --calib-sets',
      );
    }
    feeds.set(v.name, t);
  });
  return feeds;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.FLOAT8E4M3FN,
  DataType.FLOAT8E4M3FNUZ,
  DataType.FLOAT8E5M2,
  DataType.FLOAT8E5M2FNUZ,
]);

/** The first NaN or ±Inf element of a floating-point tensor (in its own precision), if any. */
export function firstNonFinite(t: Tensor): { index: number; value: number } | undefined {
  if (!FLOAT_TYPES.has(t.dataType)) return undefined;
  const b = t.bytes();
  // Doubles are read as doubles: 1e300 is finite there though it overflows float32.
  const values = t.dataType === DataType.DOUBLE ? new Float64Array(new Uint8Array(b).buffer) : t.toFloat32();
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return { index: i, value: values[i]! };
  return undefined;
}

/** A flat element index -> its index on each axis. */
function unflatten(index: number, dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    out[k] = index % dims[k]!;
    index = Math.floor(index / dims[k]!);
  }
  return out;
}

/**
 * The set folders that `range` selects under `roots` (default: beside the model); `option`
 * names the flag. Only folder names are read, so a bad selection fails before any data or model.
 */
export function findDataSets(modelPath: string, roots: readonly string[], range: string | undefined, option = '--calib-sets'): string[] {
  const rootDirs = roots.length > 0 ? roots : [dirname(resolve(modelPath))];
  return findSetDirs(rootDirs, range === undefined ? undefined : parseSetRange(range, option));
}

/** Data sets over the folders `findDataSets` chose; each is read and checked when it runs. */
export function testDataSets(model: Model, dirs: readonly string[]): DataSet[] {
  // Keys name the parent folder too when the sets come from several folders.
  const several = new Set(dirs.map((d) => dirname(d))).size > 1;
  const inputFiles = (dir: string): string[] => {
    const files: string[] = [];
    for (let i = 0; existsSync(join(dir, `input_${i}.pb`)); i++) files.push(join(dir, `input_${i}.pb`));
    return files;
  };
  return dirs.map((dir) => ({
    key: several ? `${basename(dirname(dir))}/${basename(dir)}` : basename(dir),
    dir,
    number: setNumber(dir),
    files: inputFiles(dir),
    load: () => checkInputs(model, dir, inputFiles(dir).map((f) => decodeTensorFile(readFileChecked(f), f))),
  }));
}
