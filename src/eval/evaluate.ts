/**
 * Compare two models on the same data sets: per-output differences, and for a causal language
 * model (an `input_ids` input and a rank-3 `logits` output over the vocabulary) the perplexity
 * of both, the KL divergence of the candidate's next-token distribution from the reference's,
 * and how often their top-1 predictions agree. Logits at position t predict the token at t+1.
 */
import type { DataSet } from '../calibrate/data.js';
import { dataInputs, findDataSets, testDataSets } from '../calibrate/data.js';
import type { ExecutionProvider } from '../calibrate/ort.js';
import { createSession, ortToFloat64, toOrtTensor } from '../calibrate/ort.js';
import type { Progress } from '../calibrate/run.js';
import { runOnSet } from '../calibrate/run.js';
import { checkRunSizes } from '../calibrate/size-check.js';
import type { Model } from '../ir/model.js';
import { elemTypeOf, shapeOf } from '../ir/types.js';
import type { Value } from '../ir/value.js';
import { dataTypeInfo } from '../ir/dtypes.js';
import { CalibrationError } from '../errors.js';
import { loadModel } from '../onnx/model-file.js';

export interface OutputDiff {
  readonly maxAbs: number;
  readonly meanAbs: number;
}

export interface EvalReport {
  readonly sets: number;
  readonly outputs: Record<string, OutputDiff>;
  readonly perplexity?: { readonly reference: number; readonly candidate: number };
  readonly nll?: { readonly reference: number; readonly candidate: number };
  readonly kl?: number;
  readonly top1Agreement?: number;
  readonly tokens?: number;
  /** Mean KL at each position of the sequences (where in a sequence the candidate departs). */
  readonly klByPosition?: number[];
}

export interface EvalOptions {
  readonly reference: string;
  readonly candidate: string;
  readonly data?: readonly string[];
  readonly sets?: string;
  readonly providers?: readonly ExecutionProvider[];
  readonly progress: Progress;
  readonly warn: (m: string) => void;
}

/** log-softmax of one row, in float64. */
function logSoftmax(row: Float64Array): Float64Array {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  return row.map((x) => x - lse);
}

const describe = (v: Value | undefined): string => {
  if (v === undefined) return '(none)';
  const shape = shapeOf(v.type);
  const type = elemTypeOf(v.type);
  return `${type === undefined ? '?' : dataTypeInfo(type).name}[${shape === undefined ? '?' : shape.map((d) => d ?? '?').join(', ')}]`;
};

/** Two shapes that can hold the same tensor: same rank, equal where both are fixed. */
const compatible = (a: Value, b: Value): boolean => {
  if (elemTypeOf(a.type) !== elemTypeOf(b.type)) return false;
  const x = shapeOf(a.type);
  const y = shapeOf(b.type);
  if (x === undefined || y === undefined) return true;
  return x.length === y.length && x.every((d, i) => typeof d !== 'number' || typeof y[i] !== 'number' || d === y[i]);
};

/**
 * The candidate must be a version of the reference: the same data inputs (names, types, shapes)
 * and every reference output. Otherwise one message lists every difference.
 */
function compareInterfaces(ref: Model, cand: Model, refPath: string, candPath: string): void {
  const diffs: string[] = [];
  const refIn = new Map(dataInputs(ref).map((v) => [v.name, v]));
  const candIn = new Map(dataInputs(cand).map((v) => [v.name, v]));
  for (const [name, v] of refIn) {
    const c = candIn.get(name);
    if (c === undefined) diffs.push(`input "${name}" ${describe(v)}: the candidate has no such input`);
    else if (!compatible(v, c)) diffs.push(`input "${name}": reference ${describe(v)}, candidate ${describe(c)}`);
  }
  for (const [name, c] of candIn) if (!refIn.has(name)) diffs.push(`input "${name}" ${describe(c)}: only the candidate takes it`);
  const candOut = new Map(cand.graph.outputs.map((v) => [v.name, v]));
  for (const v of ref.graph.outputs) {
    const c = candOut.get(v.name);
    if (c === undefined) diffs.push(`output "${v.name}" ${describe(v)}: the candidate lacks the reference's output`);
    else if (!compatible(v, c)) diffs.push(`output "${v.name}": reference ${describe(v)}, candidate ${describe(c)}`);
  }
  if (diffs.length === 0) return;
  const shown = diffs.slice(0, 12).map((d) => `  ${d}`);
  if (diffs.length > shown.length) shown.push(`  … and ${diffs.length - shown.length} more`);
  throw new CalibrationError(
    `${candPath} is not a version of ${refPath}: eval compares two models of one interface (a float model and its quantized output), and these differ in ${diffs.length} place(s):\n${shown.join('\n')}`,
  );
}

export async function evaluate(opts: EvalOptions): Promise<EvalReport> {
  const dirs = findDataSets(opts.reference, opts.data ?? [], opts.sets, '--sets');
  const refModel = loadModel(opts.reference);
  const candModel = loadModel(opts.candidate);
  const refOutputs = refModel.graph.outputs.map((v) => v.name);
  compareInterfaces(refModel, candModel, opts.reference, opts.candidate);
  const sets: DataSet[] = testDataSets(refModel, dirs);
  const options = { providers: opts.providers ?? ['cpu' as const], optimization: 'disabled' as const, warn: opts.warn };
  const ref = await createSession(opts.reference, options);
  const cand = await createSession(opts.candidate, options);
  const isLm = refModel.graph.inputs.some((v) => v.name === 'input_ids') && refOutputs.includes('logits');
  const diffs = new Map<string, { max: number; sum: number; n: number }>();
  let nllRef = 0;
  let nllCand = 0;
  let kl = 0;
  let agree = 0;
  let tokens = 0;
  const klAt: { sum: number; n: number }[] = [];
  opts.progress.start(sets.length, 'evaluating');
  try {
    for (const set of sets) {
      const inputs = set.load();
      // Sizes first, on both models: a tensor this machine cannot hold is refused before either runs.
      checkRunSizes(refModel, inputs, set.key, `the reference ${opts.reference}`);
      checkRunSizes(candModel, inputs, set.key, `the candidate ${opts.candidate}`);
      const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
      for (const [name, t] of inputs) feeds[name] = toOrtTensor(t);
      const a = await runOnSet(ref, feeds, refOutputs, set.key, `the reference ${opts.reference}`);
      const b = await runOnSet(cand, feeds, refOutputs, set.key, `the candidate ${opts.candidate}`);
      for (const name of refOutputs) {
        const x = ortToFloat64(a[name]!);
        const y = ortToFloat64(b[name]!);
        if (x.length !== y.length) throw new CalibrationError(`output ${name}: ${x.length} values from the reference, ${y.length} from the candidate`);
        const d = diffs.get(name) ?? { max: 0, sum: 0, n: 0 };
        for (let i = 0; i < x.length; i++) {
          const e = Math.abs(x[i]! - y[i]!);
          if (e > d.max || Number.isNaN(e)) d.max = e;
          d.sum += e;
        }
        d.n += x.length;
        diffs.set(name, d);
      }
      if (isLm) {
        const ids = inputs.get('input_ids')!.toNumbers();
        const la = a['logits']!;
        const [B, S, V] = la.dims as [number, number, number];
        const xa = ortToFloat64(la);
        const xb = ortToFloat64(b['logits']!);
        for (let bi = 0; bi < B; bi++) {
          for (let t = 0; t + 1 < S; t++) {
            const off = (bi * S + t) * V;
            const pa = logSoftmax(xa.subarray(off, off + V));
            const pb = logSoftmax(xb.subarray(off, off + V));
            const target = ids[bi * S + t + 1]!;
            nllRef -= pa[target]!;
            nllCand -= pb[target]!;
            let argA = 0;
            let argB = 0;
            let klHere = 0;
            for (let v = 0; v < V; v++) {
              klHere += Math.exp(pa[v]!) * (pa[v]! - pb[v]!);
              if (pa[v]! > pa[argA]!) argA = v;
              if (pb[v]! > pb[argB]!) argB = v;
            }
            kl += klHere;
            const at = (klAt[t] ??= { sum: 0, n: 0 });
            at.sum += klHere;
            at.n++;
            if (argA === argB) agree++;
            tokens++;
          }
        }
      }
      opts.progress.tick(set.key);
    }
  } finally {
    opts.progress.done();
    await ref.release();
    await cand.release();
  }
  const outputs = Object.fromEntries([...diffs].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, d]) => [k, { maxAbs: d.max, meanAbs: d.sum / Math.max(d.n, 1) }]));
  if (!isLm || tokens === 0) return { sets: sets.length, outputs };
  return {
    sets: sets.length,
    outputs,
    nll: { reference: nllRef / tokens, candidate: nllCand / tokens },
    perplexity: { reference: Math.exp(nllRef / tokens), candidate: Math.exp(nllCand / tokens) },
    kl: kl / tokens,
    top1Agreement: agree / tokens,
    tokens,
    klByPosition: klAt.map((k) => k.sum / k.n),
  };
}
