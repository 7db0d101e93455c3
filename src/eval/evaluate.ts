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
  /** onnxruntime intra-op threads per session (default: one per core). */
  readonly threads?: number;
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

/**
 * One set's reference run, in the form every candidate is compared with: each output in
 * float64, and for a causal LM the log-probabilities of every position that predicts a next
 * token ([batch][position]). Computed once per set, whatever the number of candidates.
 */
interface ReferenceRun {
  readonly outputs: ReadonlyMap<string, Float64Array>;
  readonly logProbs?: readonly (readonly Float64Array[])[];
}

/** The log-softmax of each row of logits [B, S, V] at positions 0..S-2 (those followed by a target). */
function logProbRows(logits: Float64Array, [B, S, V]: readonly [number, number, number]): Float64Array[][] {
  return Array.from({ length: B }, (_, bi) => Array.from({ length: Math.max(S - 1, 0) }, (_, t) => logSoftmax(logits.subarray((bi * S + t) * V, (bi * S + t + 1) * V))));
}

/** What one candidate has accumulated over the sets so far. */
class Tally {
  readonly diffs = new Map<string, { max: number; sum: number; n: number }>();
  nllRef = 0;
  nllCand = 0;
  kl = 0;
  agree = 0;
  tokens = 0;
  readonly klAt: { sum: number; n: number }[] = [];

  /** One set's run of the reference and this candidate's outputs (b). */
  add(ref: ReferenceRun, b: Record<string, ReturnType<typeof toOrtTensor>>, ids: readonly number[] | undefined): void {
    const candidate = new Map([...ref.outputs.keys()].map((name) => [name, ortToFloat64(b[name]!)]));
    for (const [name, x] of ref.outputs) {
      const y = candidate.get(name)!;
      if (x.length !== y.length) throw new CalibrationError(`output ${name}: ${x.length} values from the reference, ${y.length} from the candidate`);
      const d = this.diffs.get(name) ?? { max: 0, sum: 0, n: 0 };
      for (let i = 0; i < x.length; i++) {
        const e = Math.abs(x[i]! - y[i]!);
        if (e > d.max || Number.isNaN(e)) d.max = e;
        d.sum += e;
      }
      d.n += x.length;
      this.diffs.set(name, d);
    }
    if (ids === undefined || ref.logProbs === undefined) return;
    const [B, S, V] = b['logits']!.dims as [number, number, number];
    const xb = candidate.get('logits')!;
    for (let bi = 0; bi < B; bi++) {
      for (let t = 0; t + 1 < S; t++) {
        const off = (bi * S + t) * V;
        const pa = ref.logProbs[bi]![t]!;
        const pb = logSoftmax(xb.subarray(off, off + V));
        const target = ids[bi * S + t + 1]!;
        this.nllRef -= pa[target]!;
        this.nllCand -= pb[target]!;
        let argA = 0;
        let argB = 0;
        let klHere = 0;
        for (let v = 0; v < V; v++) {
          klHere += Math.exp(pa[v]!) * (pa[v]! - pb[v]!);
          if (pa[v]! > pa[argA]!) argA = v;
          if (pb[v]! > pb[argB]!) argB = v;
        }
        this.kl += klHere;
        const at = (this.klAt[t] ??= { sum: 0, n: 0 });
        at.sum += klHere;
        at.n++;
        if (argA === argB) this.agree++;
        this.tokens++;
      }
    }
  }

  report(sets: number, isLm: boolean): EvalReport {
    const outputs = Object.fromEntries([...this.diffs].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, d]) => [k, { maxAbs: d.max, meanAbs: d.sum / Math.max(d.n, 1) }]));
    if (!isLm || this.tokens === 0) return { sets, outputs };
    const t = this.tokens;
    return {
      sets,
      outputs,
      nll: { reference: this.nllRef / t, candidate: this.nllCand / t },
      perplexity: { reference: Math.exp(this.nllRef / t), candidate: Math.exp(this.nllCand / t) },
      kl: this.kl / t,
      top1Agreement: this.agree / t,
      tokens: t,
      klByPosition: this.klAt.map((k) => k.sum / k.n),
    };
  }
}

export async function evaluate(opts: EvalOptions): Promise<EvalReport> {
  const { candidate, ...rest } = opts;
  return (await evaluateMany({ ...rest, candidates: [candidate] }))[0]!;
}

/**
 * Several candidates against one reference, in one pass over the sets: the reference runs once
 * per set (what comparing rule sets side by side costs), and each candidate's report is the one
 * `evaluate` gives it alone.
 */
export async function evaluateMany(opts: Omit<EvalOptions, 'candidate'> & { readonly candidates: readonly string[] }): Promise<EvalReport[]> {
  const dirs = findDataSets(opts.reference, opts.data ?? [], opts.sets, '--sets');
  const refModel = loadModel(opts.reference);
  const candModels = opts.candidates.map((c) => loadModel(c));
  const refOutputs = refModel.graph.outputs.map((v) => v.name);
  candModels.forEach((m, i) => compareInterfaces(refModel, m, opts.reference, opts.candidates[i]!));
  const sets: DataSet[] = testDataSets(refModel, dirs);
  const options = { providers: opts.providers ?? ['cpu' as const], optimization: 'disabled' as const, warn: opts.warn, ...(opts.threads ? { intraOpThreads: opts.threads } : {}) };
  const ref = await createSession(opts.reference, options);
  const cands: Awaited<ReturnType<typeof createSession>>[] = [];
  const isLm = refModel.graph.inputs.some((v) => v.name === 'input_ids') && refOutputs.includes('logits');
  const tallies = opts.candidates.map(() => new Tally());
  opts.progress.start(sets.length, 'evaluating');
  try {
    for (const c of opts.candidates) cands.push(await createSession(c, options));
    for (const set of sets) {
      const inputs = set.load();
      // Sizes first, on every model: a tensor this machine cannot hold is refused before any runs.
      checkRunSizes(refModel, inputs, set.key, `the reference ${opts.reference}`);
      candModels.forEach((m, i) => checkRunSizes(m, inputs, set.key, `the candidate ${opts.candidates[i]}`));
      const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
      for (const [name, t] of inputs) feeds[name] = toOrtTensor(t);
      const a = await runOnSet(ref, feeds, refOutputs, set.key, `the reference ${opts.reference}`);
      const ids = isLm ? inputs.get('input_ids')!.toNumbers() : undefined;
      const outputs = new Map(refOutputs.map((name) => [name, ortToFloat64(a[name]!)]));
      const run: ReferenceRun = { outputs, ...(isLm ? { logProbs: logProbRows(outputs.get('logits')!, a['logits']!.dims as [number, number, number]) } : {}) };
      for (const [i, cand] of cands.entries()) {
        const b = await runOnSet(cand, feeds, refOutputs, set.key, `the candidate ${opts.candidates[i]}`);
        tallies[i]!.add(run, b, ids);
      }
      opts.progress.tick(set.key);
    }
  } finally {
    opts.progress.done();
    await ref.release();
    for (const c of cands) await c.release();
  }
  return tallies.map((t) => t.report(sets.length, isLm));
}
