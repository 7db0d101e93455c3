/**
 * Random calibration inputs (`--calib-random N --dim NAME=N ...`): a smoke test, not a
 * calibration, but one that must run on any transformer export. Every input gets values the
 * model accepts:
 *
 *   token ids        int input whose values index embedding tables (Gather on an initializer,
 *                    through Reshape/Unsqueeze/...): uniform below the fewest rows of them all
 *   attention masks  name contains "mask", or a bool input: all ones
 *   position ids     name contains "position": past length + 0..S-1 on the last axis
 *   other ints       zeros (a valid index into anything)
 *   floats (cache)   uniform in [-1, 1)
 *
 * Before any value is drawn the sizes are checked: every dynamic dimension named by --dim (all
 * missing ones listed in one message), no --dim the inputs do not have, the bytes of one set
 * within memory, and the lengths consistent: one batch size, one past length, a mask as long as
 * past + new tokens, and no longer than the position tables (learned positions) have rows.
 * Values are seeded: the same command draws the same inputs.
 */
import { totalmem } from 'node:os';
import { UsageError } from '../errors.js';
import type { Model } from '../ir/model.js';
import { Tensor } from '../ir/tensor.js';
import { elemTypeOf, shapeOf } from '../ir/types.js';
import type { Value } from '../ir/value.js';
import { DataType, dataTypeInfo } from '../ir/dtypes.js';
import { Op } from '../onnx/ops.js';
import type { DataSet } from './data.js';
import { dataInputs } from './data.js';

interface Table {
  readonly name: string;
  readonly rows: number;
}

type Role = { kind: 'tokens'; rows: number; tables: Table[] } | { kind: 'mask' } | { kind: 'positions' } | { kind: 'zeros' } | { kind: 'floats' };

interface Planned {
  readonly value: Value;
  readonly elemType: number;
  readonly dims: number[];
  /** The --dim name of each axis (undefined for a fixed size). */
  readonly names: (string | undefined)[];
  readonly role: Role;
}

/** Ops that move or reshape index values without changing them. */
const INDEX_PRESERVING = [Op.Reshape, Op.Unsqueeze, Op.Squeeze, Op.Cast, Op.Identity, Op.Expand, Op.Slice];

/** The embedding tables (Gather on an initializer) that the values of `v` index, with their rows. */
function tablesIndexedBy(v: Value): Table[] {
  const out: Table[] = [];
  const seen = new Set<Value>();
  const queue = [v];
  while (queue.length > 0) {
    const x = queue.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    for (const { node, index } of x.uses()) {
      const table = node.input(0)?.initializer;
      if (node.is(Op.Gather) && index === 1 && table !== undefined && table.dims.length >= 1) {
        const axis = node.intAttr('axis', 0);
        out.push({ name: node.input(0)!.name, rows: table.dims[axis < 0 ? axis + table.dims.length : axis]! });
      } else if (index === 0 && INDEX_PRESERVING.some((op) => node.is(op))) queue.push(...node.outputs);
    }
  }
  return out;
}

/**
 * Tables of learned positions (GPT-2's wpe, BERT's position_embeddings): Gathers on a rank-2
 * initializer named for positions whose indices the graph computes itself. They bound past +
 * new tokens.
 */
function positionTables(model: Model, fromInputs: ReadonlySet<string>): Table[] {
  const out: Table[] = [];
  for (const node of model.graph.nodes) {
    const data = node.input(0);
    if (!node.is(Op.Gather) || data?.initializer === undefined || data.initializer.dims.length !== 2) continue;
    if (fromInputs.has(data.name) || node.input(1)?.initializer !== undefined) continue;
    if (/pos|wpe/i.test(data.name)) out.push({ name: data.name, rows: data.initializer.dims[0]! });
  }
  return out;
}

function roleOf(v: Value, elemType: number): Role {
  const isInt = elemType === DataType.INT64 || elemType === DataType.INT32;
  if (/mask/i.test(v.name) || elemType === DataType.BOOL) return { kind: 'mask' };
  if (!isInt) return { kind: 'floats' };
  if (/position/i.test(v.name)) return { kind: 'positions' };
  const tables = tablesIndexedBy(v);
  if (tables.length > 0) return { kind: 'tokens', rows: Math.min(...tables.map((t) => t.rows)), tables };
  return { kind: 'zeros' };
}

const fmtBytes = (n: number): string => {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
};

/** Sizes every input from `dims`, or throws one UsageError that says everything missing or wrong. */
function plan(model: Model, dims: ReadonlyMap<string, number>): Planned[] {
  const inputs = dataInputs(model);
  const missing = new Map<string, string[]>();
  const unnamed: string[] = [];
  const known = new Set<string>();
  for (const v of inputs) {
    const shape = shapeOf(v.type);
    if (shape === undefined) throw new UsageError(`input "${v.name}" has no declared shape: random data needs one; calibrate on real data with --calib`);
    shape.forEach((d, k) => {
      if (typeof d === 'number') return;
      if (d === undefined || d === '') return unnamed.push(`${v.name}[${k}]`);
      known.add(d);
      if (!dims.has(d)) missing.set(d, [...(missing.get(d) ?? []), `${v.name}[${k}]`]);
    });
  }
  if (unnamed.length > 0) throw new UsageError(`input dimension(s) ${unnamed.join(', ')} are dynamic and have no name, so --dim cannot size them: calibrate on real data with --calib`);
  const unknown = [...dims.keys()].filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `--dim ${unknown.join(', ')}: the model's inputs have no dynamic dimension of ${unknown.length === 1 ? 'that name' : 'those names'}; ${known.size > 0 ? `theirs are ${[...known].join(', ')}` : 'all their dimensions are fixed, so drop --dim'}`,
    );
  }
  if (missing.size > 0) {
    throw new UsageError(
      `--calib-random needs the size of every dynamic input dimension: give ${[...missing.keys()].map((n) => `--dim ${n}=N`).join(' ')} ` +
        `(${[...missing].map(([n, where]) => `${n}: ${where.join(', ')}`).join('; ')})`,
    );
  }
  const planned = inputs.map((v): Planned => {
    const shape = shapeOf(v.type)!;
    const elemType = elemTypeOf(v.type) ?? DataType.FLOAT;
    return {
      value: v,
      elemType,
      dims: shape.map((d) => (typeof d === 'number' ? d : dims.get(d!)!)),
      names: shape.map((d) => (typeof d === 'number' ? undefined : d)),
      role: roleOf(v, elemType),
    };
  });
  checkMemory(planned);
  checkLengths(model, planned);
  return planned;
}

/** One set's random inputs must fit in a quarter of this machine's memory. */
function checkMemory(planned: readonly Planned[]): void {
  const sizes = planned.map((p) => p.dims.reduce((a, b) => a * b, 1) * Math.max(1, dataTypeInfo(p.elemType).bits / 8));
  const total = sizes.reduce((a, b) => a + b, 0);
  const limit = totalmem() / 4;
  if (total > limit || planned.some((p) => p.dims.reduce((a, b) => a * b, 1) > 2 ** 32 - 1)) {
    const biggest = planned.map((p, i) => ({ p, bytes: sizes[i]! })).sort((a, b) => b.bytes - a.bytes)[0]!;
    throw new UsageError(
      `the random inputs of one set would take ${fmtBytes(total)} (the largest, "${biggest.p.value.name}" ${dataTypeInfo(biggest.p.elemType).name}[${biggest.p.dims.join(', ')}], ${fmtBytes(biggest.bytes)}), ` +
        `more than a quarter of this machine's ${fmtBytes(totalmem())} of memory: give smaller --dim sizes`,
    );
  }
}

const axisName = (p: Planned, k: number): string => (p.names[k] !== undefined ? `${p.names[k]}=${p.dims[k]}` : `${p.dims[k]} (fixed)`);

/**
 * The lengths of a language model's inputs must agree: one batch size; every past cache
 * [B, H, P, D] one length P; a mask [B, P + S] as long as past + new tokens; past + new tokens
 * within the rows of every learned-position table.
 */
function checkLengths(model: Model, planned: readonly Planned[]): void {
  const byName = (re: RegExp): Planned[] => planned.filter((p) => re.test(p.value.name));
  const lm = byName(/input_ids|attention_mask|token_type_ids|position_ids|past_key_values|past_key|past_value/);
  const batched = lm.filter((p) => p.dims.length >= 1);
  const batch = batched[0];
  for (const p of batched) {
    if (p.dims[0] !== batch!.dims[0]) {
      throw new UsageError(`inputs "${batch!.value.name}" and "${p.value.name}" must have one batch size, but get ${axisName(batch!, 0)} and ${axisName(p, 0)}: give their --dim the same size`);
    }
  }
  const pasts = planned.filter((p) => /past/i.test(p.value.name) && p.role.kind === 'floats' && p.dims.length === 4);
  const past = pasts[0];
  for (const p of pasts) {
    if (p.dims[2] !== past!.dims[2]) {
      throw new UsageError(`the past caches "${past!.value.name}" and "${p.value.name}" must have one length (axis 2), but get ${axisName(past!, 2)} and ${axisName(p, 2)}: give their --dim the same size`);
    }
  }
  const ids = planned.find((p) => p.role.kind === 'tokens' && p.dims.length === 2);
  if (ids === undefined) return;
  const pastLength = past?.dims[2] ?? 0;
  const total = pastLength + ids.dims[1]!;
  const spelled = past ? `past length ${axisName(past, 2)} + new tokens ${axisName(ids, 1)} = ${total}` : `new tokens ${axisName(ids, 1)}`;
  for (const mask of planned.filter((p) => p.role.kind === 'mask' && p.dims.length === 2)) {
    if (mask.dims[1] !== total) {
      throw new UsageError(`the attention mask "${mask.value.name}" covers past and new tokens, so its length ${axisName(mask, 1)} must be ${spelled}: give --dim sizes that agree`);
    }
  }
  for (const p of planned.filter((q) => q.role.kind === 'positions')) {
    const rows = Math.min(...tablesIndexedBy(p.value).map((t) => t.rows));
    const largest = pastLength + p.dims[p.dims.length - 1]! - 1;
    if (largest >= rows) throw new UsageError(`position ids "${p.value.name}" would reach ${largest} (${spelled} positions), but the table they index has ${rows} rows: give --dim sizes with at most ${rows} tokens in all`);
  }
  const fromInputs = new Set(planned.flatMap((p) => (p.role.kind === 'tokens' ? p.role.tables.map((t) => t.name) : [])));
  for (const t of positionTables(model, fromInputs)) {
    if (total > t.rows) throw new UsageError(`the model learns positions in ${t.name}, which has ${t.rows} rows, but ${spelled} positions: give --dim sizes with at most ${t.rows} tokens in all`);
  }
}

/** Random inputs from declared types and shapes; dynamic dims come from `dims` (name=value). */
export function randomSets(model: Model, count: number, dims: ReadonlyMap<string, number>, seed = 1): DataSet[] {
  const planned = plan(model, dims);
  const pastLength = planned.find((p) => /past/i.test(p.value.name) && p.role.kind === 'floats' && p.dims.length === 4)?.dims[2] ?? 0;
  return Array.from({ length: count }, (_, k) => ({
    key: `random_${k}`,
    dir: '(random)',
    files: [],
    number: k,
    load: () => {
      let s = (seed * 2654435761 + k * 40503) >>> 0;
      const rand = (): number => {
        s = (s * 1664525 + 1013904223) >>> 0;
        return s / 2 ** 32;
      };
      const feeds = new Map<string, Tensor>();
      for (const p of planned) {
        const n = p.dims.reduce((a, b) => a * b, 1);
        const last = p.dims[p.dims.length - 1] ?? 1;
        const role = p.role;
        const value = (i: number): number => {
          switch (role.kind) {
            case 'tokens':
              return Math.floor(rand() * role.rows);
            case 'mask':
              return 1;
            case 'positions':
              return pastLength + (i % last);
            case 'zeros':
              return 0;
            case 'floats':
              return rand() * 2 - 1;
          }
        };
        const values = Array.from({ length: n }, (_, i) => value(i));
        const name = p.value.name;
        feeds.set(name, p.elemType === DataType.INT64 ? Tensor.fromInt64(name, p.dims, values) : Tensor.fromFloat32(name, p.elemType as DataType, p.dims, values));
      }
      return feeds;
    },
  }));
}
