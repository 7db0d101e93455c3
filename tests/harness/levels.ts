/**
 * Runs a model at each of onnxruntime's graph optimization levels and measures how far each
 * level's outputs are from `disabled`, against the error the quantization itself makes:
 *
 *   quantized model ─ORT(level)─▶ outputs_level ─┐
 *   quantized model ─ORT(disabled)─▶ outputs_0 ──┼─ levelError(o)  = max |outputs_level − outputs_0|
 *   float model ─ORT(disabled)─▶ reference ──────┴─ quantError(o)  = max |outputs_0 − reference|
 *
 * Optimizations change float rounding upstream of a QuantizeLinear (fused LayerNorm and Gelu,
 * a MatMul with its scale folded in), which can move a value that lies on a rounding boundary
 * to the neighbouring point of the 8- or 4-bit grid. The bound every level is held to, per
 * output:
 *
 *   - an output on the grid (a present.* that a DequantizeLinear produces): every element
 *     equals disabled's or is one step away (≤ the pair's largest scale, × 32 for float8
 *     e4m3 whose spacing grows with magnitude), and at most
 *     FLIP_FRACTION of the elements differ at all;
 *   - any other output (logits): levelError ≤ LEVEL_BOUND · quantError.
 */
import { createSession, ortToFloat64, OPTIMIZATION_LEVELS } from '../../src/calibrate/ort.js';
import type { OptimizationLevel, ort } from '../../src/calibrate/ort.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeModel } from '../../src/onnx/serde.js';

export const LEVEL_BOUND = 0.25;
export const FLIP_FRACTION = 0.01;
/** On a dynamic pair's output, a difference below this fraction of its largest step is a scale's wobble, not a flipped code. */
export const DYNAMIC_WOBBLE = 0.01;

export type Outputs = Record<string, Float64Array>;

/** One session per level on the same bytes; the outputs of one run each. */
export async function runAtLevels(model: Uint8Array, feeds: Record<string, ort.Tensor>, levels: readonly OptimizationLevel[] = OPTIMIZATION_LEVELS): Promise<Map<OptimizationLevel, Outputs>> {
  const out = new Map<OptimizationLevel, Outputs>();
  for (const level of levels) {
    const s = await createSession(model, { optimization: level, intraOpThreads: 1 });
    try {
      const r = await s.run(feeds);
      out.set(level, Object.fromEntries(Object.entries(r).map(([k, t]) => [k, ortToFloat64(t)])));
    } finally {
      await s.release();
    }
  }
  return out;
}

export function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Fraction of elements that differ by more than float rounding (1e-6 relative) and `tolerance`. */
export function differingFraction(a: Float64Array, b: Float64Array, tolerance = 0): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > Math.max(tolerance, 1e-6 * Math.max(1, Math.abs(b[i]!)))) n++;
  return n / a.length;
}

/** float8 e4m3's widest spacing (between 256 and 448), in units of the scale; integers: 1. */
const FLOAT8_E4M3_MAX_SPACING = 32;

/**
 * The largest grid step of each graph output that a DequantizeLinear produces: its largest
 * scale times the storage type's widest spacing (1 for integers, 32 for float8 e4m3).
 */
export function gridSteps(model: Model, computed: ReadonlyMap<string, number> = new Map()): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of model.graph.outputs) {
    const dq = gridPair(o);
    if (dq === undefined) continue;
    const spacing = dq.inputs[2]?.initializer?.dataType === DataType.FLOAT8E4M3FN ? FLOAT8_E4M3_MAX_SPACING : 1;
    const stored = dq.inputs[1]!.initializer;
    // a dynamic pair's scale is computed in the graph: its largest value on the run's feeds
    const largest = stored !== undefined ? Math.max(...stored.toFloat32()) : computed.get(dq.name);
    if (largest === undefined) throw new Error(`${dq.name}: its scale is computed in the graph; pass computedScaleMaxima(model, feeds)`);
    out.set(o.name, spacing * largest);
  }
  return out;
}

/** The DequantizeLinear that puts a graph output on its grid (directly, through its guard or offset, or turned back), if any. */
function gridPair(o: Value): Node | undefined {
  const p = o.producer();
  const guard = behindOffset(o).producer();
  const dq = p?.is(Op.DequantizeLinear) ? p : guard?.is(Op.Max) && guard.inputs[0]?.producer()?.is(Op.DequantizeLinear) ? guard.inputs[0].producer() : rotatedBack(o)?.dq;
  return dq?.is(Op.DequantizeLinear) ? dq : undefined;
}

/** The graph outputs on the grid of a dynamic pair: one whose scale the graph computes from the values. */
export function dynamicGridOutputs(model: Model): Set<string> {
  const computed = (o: Value): boolean => {
    const dq = gridPair(o);
    return dq !== undefined && dq.inputs[1]?.initializer === undefined;
  };
  return new Set(model.graph.outputs.filter(computed).map((o) => o.name));
}

/**
 * The largest value each scale computed in the graph (dynamic QDQ) takes on these feeds, by the
 * name of its DequantizeLinear: a copy of the model, with those scales as extra outputs, run
 * at `disabled`.
 */
export async function computedScaleMaxima(model: Model, feeds: Record<string, ort.Tensor>): Promise<Map<string, number>> {
  const copy = model.clone();
  const pairs = copy.graph.nodes.filter((n) => n.is(Op.DequantizeLinear) && n.inputs[1] !== undefined && n.inputs[1].initializer === undefined);
  if (pairs.length === 0) return new Map();
  for (const dq of pairs) if (!copy.graph.outputs.includes(dq.inputs[1]!)) copy.graph.outputs.push(dq.inputs[1]!);
  const run = (await runAtLevels(Buffer.concat(encodeModel(copy).chunks), feeds, ['disabled'])).get('disabled')!;
  return new Map(pairs.map((dq) => [dq.name, Math.max(...run[dq.inputs[1]!.name]!)]));
}

export interface LevelCheck {
  readonly output: string;
  readonly level: string;
  readonly error: number;
  /** What the error may be: one grid step, or LEVEL_BOUND × the quantization error. */
  readonly bound: number;
  readonly differing: number;
  readonly quantError: number;
}

/** Each (output, level other than disabled) with its error, bound and differing fraction. */
export function levelChecks(runs: Map<OptimizationLevel, Outputs>, reference: Outputs, steps: ReadonlyMap<string, number>, dynamic: ReadonlySet<string> = new Set()): LevelCheck[] {
  const base = runs.get('disabled')!;
  const checks: LevelCheck[] = [];
  for (const o of Object.keys(reference)) {
    const quantError = maxAbsDiff(base[o]!, reference[o]!);
    const step = steps.get(o);
    for (const [level, r] of runs) {
      if (level === 'disabled') continue;
      const bound = step === undefined ? LEVEL_BOUND * quantError : step * (1 + 1e-6);
      // A dynamic pair's scale follows its group's min and max, so float rounding upstream moves
      // every value of the group a little (far below a step); a flipped code moves one by a step.
      const differing = dynamic.has(o) && step !== undefined ? differingFraction(r[o]!, base[o]!, DYNAMIC_WOBBLE * step) : differingFraction(r[o]!, base[o]!);
      checks.push({ output: o, level, error: maxAbsDiff(r[o]!, base[o]!), bound, differing, quantError });
    }
  }
  return checks;
}

/**
 * What center-k adds its key offset m back to (Add of an initializer), or the value itself: a
 * constant offset moves no code, and cancels in the differences between levels.
 */
function behindOffset(v: Value): Value {
  const p = v.producer();
  return p?.is(Op.Add) && p.inputs[1]?.initializer !== undefined ? p.inputs[0]! : v;
}

/**
 * A graph output that rotate-qk turns back (present keys under a transform_config with float
 * cache I/O): MatMul(guarded DequantizeLinear, Hadamard initializer). Its grid is in the rotated
 * space, where one flipped code moves one element; turned back it moves a whole head's row.
 */
function rotatedBack(o: Value): { dq: Node; matrix: Float32Array; width: number } | undefined {
  const mm = o.producer();
  if (!mm?.is(Op.MatMul)) return undefined;
  const h = mm.inputs[1]?.initializer;
  const guard = behindOffset(mm.inputs[0]!).producer();
  const dq = guard?.is(Op.Max) ? guard.inputs[0]?.producer() : undefined;
  if (h === undefined || !dq?.is(Op.DequantizeLinear)) return undefined;
  return { dq, matrix: h.toFloat32(), width: h.dims[0]! };
}

/** The outputs with every turned-back output rotated again (times H, its own inverse): on the grid. */
export function inRotatedSpace(model: Model, outputs: Outputs): Outputs {
  const res: Outputs = { ...outputs };
  for (const o of model.graph.outputs) {
    const r = rotatedBack(o);
    const x = outputs[o.name];
    if (r === undefined || x === undefined) continue;
    const w = r.width;
    const y = new Float64Array(x.length);
    for (let row = 0; row < x.length / w; row++) {
      for (let j = 0; j < w; j++) {
        let acc = 0;
        for (let i = 0; i < w; i++) acc += x[row * w + i]! * r.matrix[i * w + j]!;
        y[row * w + j] = acc;
      }
    }
    res[o.name] = y;
  }
  return res;
}
