/**
 * The pre-run size check: before a data set is handed to onnxruntime, the run's shapes are
 * derived from the set's actual inputs (src/shapes/run-shapes.ts), and a tensor that this
 * machine cannot hold, more bytes than its memory and swap together, is exit 1 naming the set,
 * the node, its output, the shape and the bytes, and what to check. Without it, a damaged
 * constant (a repeat count of 2^31) or a data value sizing an Expand makes onnxruntime ask for
 * terabytes; where the kernel overcommits memory that request succeeds and the run fills it.
 *
 *   set.load() ─▶ walkRunShapes(model, inputs) ─▶ each output's bytes ≤ machineMemory()? ─▶ run
 *                                                                      └ no: CalibrationError
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { CalibrationError } from '../errors.js';
import { dataTypeInfo } from '../ir/dtypes.js';
import type { Model } from '../ir/model.js';
import type { Tensor } from '../ir/tensor.js';
import { tensorBytes, walkRunShapes } from '../shapes/run-shapes.js';
import type { DataSet } from './data.js';

/** This machine's memory and swap in bytes: no tensor larger than that can be held. */
export function machineMemory(): number {
  let swap = 0;
  try {
    const m = /^SwapTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) swap = Number(m[1]) * 1024;
  } catch {
    swap = 0; // no /proc (not Linux): memory alone
  }
  return totalmem() + swap;
}

const human = (bytes: number): string => {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let x = bytes;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${x} bytes` : `${x.toFixed(1)} ${units[u]}`;
};

/** An integer in full (2^62 as 4611686018427387904, not 4611686018427388000). */
const exact = (n: number): string => (Number.isInteger(n) ? BigInt(n).toString() : String(n));

/**
 * Refuse a run of `model` on `inputs` (set `set`) in which a tensor would exceed `limit` bytes.
 * `what` names the model in the message ("the model", "the reference a.onnx").
 */
export function checkRunSizes(model: Model, inputs: ReadonlyMap<string, Tensor>, set: string, what = 'the model', limit = machineMemory()): void {
  walkRunShapes(model.graph, inputs, ({ node, value, known, sizeFromData }) => {
    const bytes = tensorBytes(known.dims, known.elemType);
    if (bytes <= limit) return;
    const type = known.elemType === undefined ? '' : `${dataTypeInfo(known.elemType).name}`;
    const check = sizeFromData
      ? `its size comes from the values of this set's inputs: check them (a length, count or index out of range) or leave the set out`
      : `its size comes from the model's constants and this set's input shapes: check the constants that feed this node (a shape, repeat count or padding out of range: the model may be damaged) and this set's input shapes`;
    throw new CalibrationError(
      `${set}: ${what} would make output "${value.name}" of ${node.op.opType} node "${node.name}" ${type}[${known.dims.map(exact).join(', ')}], ` +
        `${human(bytes)} (${exact(bytes)} bytes): more than this machine's memory and swap (${human(limit)}), so it was not run; ${check}`,
    );
  });
}

/** The sets, each checked by checkRunSizes against `model` as it is loaded to run. */
export function sizeCheckedSets(sets: readonly DataSet[], model: Model, what?: string): DataSet[] {
  return sets.map((s) => ({
    ...s,
    load: () => {
      const inputs = s.load();
      checkRunSizes(model, inputs, s.key, what);
      return inputs;
    },
  }));
}
