/**
 * `ctc compile`: the whole pipeline, in order.
 *
 *   read + decode once ─▶ write plan (every write checked against every read; the staging
 *   folder taken) ─▶ find sites, plan the rule set, once
 *     ─▶ statistics: insert-observers on a clone (the plan's edges carried over), appended
 *        to the file's bytes, run by calibrate (or layer by layer, each part cut from a
 *        clone); or merged --stats files
 *     ─▶ scales ─▶ upgrade-opset, insert-qdq on the model itself ─▶ write model.onnx,
 *        quantization_config.json, scales.json into the staging folder ─▶ move it into
 *        OUTDIR (all or nothing)
 *
 * The passes run through one PassPipeline, so a pass's error names the passes before it.
 *
 * Everything run-scoped lives in the options and locals of one call: no module state.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ATTENTION_PATTERNS } from './attention/patterns/index.js';
import { cacheIoPass, centerKPass, insertDynamicQdqPass, insertObserversPass, insertQdqPass, rotateQkPass, upgradeOpsetPass } from '../passes/index.js';
import { DYNAMIC_QDQ_IR, DYNAMIC_QDQ_OPSET, whyNotGrouped } from '../passes/insert-dynamic-qdq.js';
import { insertObservers } from '../passes/insert-observers.js';
import { alreadyQuantized, qdqNeeds, scaleTypeOf } from '../passes/insert-qdq.js';
import type { CacheIoMode, CacheTensor } from '../passes/cache-io.js';
import { PassPipeline } from '../passes/pass.js';
import { whyNotCentered } from '../passes/center-k.js';
import { whyNotRotated } from '../passes/rotate-qk.js';
import { findSites, rejectionLabel } from './attention/find-sites.js';
import { stripSitePrefix } from './attention/naming.js';
import type { Site } from './attention/site.js';
import { findDataSets, testDataSets } from './calibrate/data.js';
import { randomSets } from './calibrate/random.js';
import type { DataSet } from './calibrate/data.js';
import { reduceObserver } from './calibrate/observers.js';
import type { Range } from './calibrate/observers.js';
import type { ExecutionProvider } from './calibrate/ort.js';
import { calibrateLayerwise } from './calibrate/layerwise.js';
import { keyMeans, measureKeySums } from './calibrate/key-means.js';
import type { KeySum } from './calibrate/stats.js';
import { tensorBytes } from './calibrate/partition.js';
import type { ObserverGraph } from './calibrate/observer-graph.js';
import { calibrate, modelHash } from './calibrate/run.js';
import { sizeCheckedSets } from './calibrate/size-check.js';
import type { Progress } from './calibrate/run.js';
import type { Stats } from './calibrate/stats.js';
import { checkStatsEdges, edgeKeys, mergeStats, readStats, statsToJson } from './calibrate/stats.js';
import { attentionClassOf, checkCheckpointOutput, checkpointLayout, checkpointPrefix, checkServableByVllm, readCheckpoint, scaleTensors, writeCheckpoint } from './emit/checkpoint.js';
import type { InputCheckpoint, WrittenCheckpoint } from './emit/checkpoint.js';
import { quantizationConfig, sortKeys } from './emit/config.js';
import { CONFIG_FILE, EXTERNAL_DATA_FILE, MODEL_FILE, RECORD_FILE, REPORT_FILE, SCALES_FILE, checkInlineSize, outputLayout, writeOutputs } from './emit/output.js';
import { siteToJson } from './attention/site.js';
import type { Rejection } from './attention/find-sites.js';
import type { CompileRecord } from './report/record.js';
import { renderReport } from './report/page.js';
import type { LinkWeights, OutputLayout, WrittenOutput } from './emit/output.js';
import { checkPathOptions, makeFolder, planWrites } from './emit/write-plan.js';
import type { WritePlan } from './emit/write-plan.js';
import { scalesJson } from './emit/scales.js';
import { CalibrationError, CtcError, UsageError } from './errors.js';
import { GraphCopier } from './ir/clone.js';
import type { Model } from './ir/model.js';
import type { Value } from './ir/value.js';
import { readModelFile, writeFileAtomic } from './onnx/model-file.js';
import { appendToGraph, encodeModel } from './onnx/serde.js';
import type { ObserverName, QuantizationArgs } from './quant/args.js';
import type { QuantEdge } from './quant/edges.js';
import { carryEdges, quantEdges } from './quant/edges.js';
import { computeQParams, scaleProblem } from './quant/qparams.js';
import type { QParams, ScaleType } from './quant/qparams.js';
import { loadRuleSet } from './rules/load.js';
import type { RuleSet } from './rules/schema.js';
import { planRotations, planSites, withIgnoredSites, withResolvedHeadDims } from './rules/targets.js';
import { offsetOf } from './transform/kv-offset.js';
import type { SiteRotation } from './rules/targets.js';
import type { SitePlan } from './quant/edges.js';

export interface CompileOptions {
  readonly model: string;
  readonly rules: string;
  readonly outDir: string;
  readonly force?: boolean;
  readonly calib?: readonly string[];
  readonly calibSets?: string;
  readonly calibRandom?: number;
  readonly dims?: ReadonlyMap<string, number>;
  readonly observer?: string;
  readonly providers?: readonly ExecutionProvider[];
  readonly threads?: number;
  /** CUDA devices to spread the calibration sets over (one session each). */
  readonly devices?: readonly number[];
  /** Calibrate one decoder layer at a time (only that layer's weights on the device). */
  readonly layerwise?: boolean;
  /** Weight bytes a calibration session may hold; a larger model is calibrated layer by layer. */
  readonly maxDeviceMemory?: number;
  readonly stats?: readonly string[];
  readonly saveStats?: string;
  /** Remove this prefix from every site name (and so from scale names and config targets). */
  readonly stripPrefix?: string;
  /** The Hugging Face checkpoint the model was exported from: also write OUTDIR/checkpoint/ for vLLM. */
  readonly checkpoint?: string;
  /** The transformers attention class, when config.json's architectures do not tell it. */
  readonly attentionClass?: string;
  /** `quantized`: past/present in the cache's storage type (passes/cache-io.ts); default `float`. */
  readonly cacheIo?: CacheIoMode;
  /** Write weights to OUTDIR/model.onnx.data (needed past protobuf's 2 GiB). */
  readonly externalData?: boolean;
  /** Link the input's external data files instead of copying them (each way has a cost). */
  readonly linkWeights?: LinkWeights | undefined;
  /** Also write OUTDIR/report.html (the page `ctc report` draws from compile.json). */
  readonly report?: boolean;
  readonly progress: Progress;
  readonly warn: (m: string) => void;
}

export interface EdgeSummary {
  readonly site: string;
  readonly layer: number;
  readonly role: string;
  readonly strategy: string;
  /** Scales computed in the model from each tensor (per token): no calibrated scale. */
  readonly dynamic: boolean;
  /** The calibrated scales' range; null when dynamic. */
  readonly scaleMin: number | null;
  readonly scaleMax: number | null;
}

export interface CompileResult {
  readonly sites: number;
  readonly quantizedSites: number;
  readonly edges: EdgeSummary[];
  readonly qdqPairs: number;
  readonly calibrationSeconds: number;
  readonly calibrationSets: number;
  readonly output: WrittenOutput | undefined;
  readonly rules: string;
  readonly statsSaved: string | undefined;
  readonly checkpoint: WrittenCheckpoint | undefined;
  readonly cacheIo: { readonly mode: CacheIoMode; readonly tensors: readonly CacheTensor[] };
}

/** Sites and the rule plan of a freshly loaded model */
function plan(
  model: Model,
  rules: RuleSet,
  modelPath: string,
  stripPrefix: string | undefined,
  ckpt: InputCheckpoint | undefined,
): { sites: Site[]; plans: SitePlan[]; edges: QuantEdge[]; rejected: Rejection[]; rotations: Map<Site, SiteRotation> } {
  const found = findSites(model, ATTENTION_PATTERNS);
  const rejected = found.rejected;
  // With a checkpoint, site names become its module names (the wrapper prefix is found by matching).
  const prefix = ckpt !== undefined && found.sites.length > 0 ? checkpointPrefix(found.sites.map((s) => s.name), ckpt, stripPrefix) : stripPrefix;
  const sites = prefix === undefined || prefix === '' ? found.sites : stripSitePrefix(found.sites, prefix);
  if (sites.length === 0) {
    const why = rejected.length === 0 ? 'it has no Softmax or attention op at all' : rejected.map((r) => `  ${rejectionLabel(r)}: ${r.reason}`).join('\n');
    throw new CtcError(`${modelPath}: no attention site found, so there is nothing to quantize; nothing was written. \`ctc inspect --explain\` shows:\n${why}`);
  }
  // A compiled model: calibrating it would observe quantized values, and new scales would not
  // be the ones its QDQ pairs use.
  const done = alreadyQuantized(sites);
  if (done !== undefined) {
    throw new CtcError(
      `${modelPath}: ${done.site.name} ${done.role} (${done.tensor.name}) is already quantized by QuantizeLinear ${done.quantize.name || '(unnamed)'} → DequantizeLinear; ` +
        'ctc compiles float models: give it the model before quantization. Nothing was written.',
    );
  }
  const plans = planSites(rules, sites);
  if (plans.length === 0) {
    throw new CtcError(
      `${rules.source}: the rule set "${rules.name}" matches none of the ${sites.length} attention site(s) of ${modelPath} (${sites.map((s) => s.name).join(', ')})` +
        `${rules.kvCacheScheme && sites.every((s) => s.cache === null) ? '; its kv_cache_scheme applies only to attention with a KV cache, and these have none' : ''}; nothing was written`,
    );
  }
  return { sites, plans, edges: quantEdges(plans), rejected, rotations: planRotations(rules, sites) };
}

const size = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * The observer graph, leaving `model` as it is: insert-observers works on a clone (the plan's
 * edges carried over to it), and only what it added is appended to the file's bytes (no
 * re-encoding of the model; see appendToGraph).
 */
export function observerGraph(model: Model, fileBytes: Uint8Array, edges: readonly QuantEdge[], passes = new PassPipeline()): ObserverGraph {
  const { observers, added } = passes.run(insertObserversPass, model, edges);
  return { bytes: appendToGraph(fileBytes, added), observers };
}

/** A clone of the model for layer-by-layer calibration to sort and cut, with the edges carried over. */
function onClone(model: Model, edges: readonly QuantEdge[]): { model: Model; edges: QuantEdge[] } {
  const copier = new GraphCopier();
  const copy = model.clone(copier);
  return { model: copy, edges: carryEdges(edges, (v) => copier.valueOf(v)) };
}

function withObserver(rules: RuleSet, observer: string | undefined): RuleSet {
  if (observer === undefined) return rules;
  const names = ['static_minmax', 'minmax', 'memoryless_minmax', 'mse'];
  if (!names.includes(observer)) throw new UsageError(`--observer ${observer}: one of ${names.join(', ')}`);
  // a dynamic scheme observes nothing: --observer leaves it as it is
  const set = (a: QuantizationArgs): QuantizationArgs => (a.dynamic ? a : { ...a, observer: observer as ObserverName });
  return {
    ...rules,
    configGroups: Object.fromEntries(Object.entries(rules.configGroups).map(([k, g]) => [k, { ...g, input_activations: set(g.input_activations) }])),
    kvCacheScheme: rules.kvCacheScheme ? set(rules.kvCacheScheme) : null,
  } as RuleSet;
}

/**
 * Key centering measures its offsets on the calibration data in a first pass over the whole
 * graph, which layer-by-layer calibration does not make; vLLM (--checkpoint) does not subtract
 * an offset from the keys.
 */
function checkCentering(opts: CompileOptions, rules: string, checkpoint: boolean): void {
  const refuse = (what: string, why: string): never => {
    throw new UsageError(`${what}: the rule set "${rules}" centers the keys (ctc_extensions.k_cache_centering), ${why}. Use a rule set without ctc_extensions, or leave out ${what}.`);
  };
  if (opts.layerwise || (opts.maxDeviceMemory !== undefined)) refuse(opts.layerwise ? '--layerwise' : '--max-device-memory', 'whose offsets are measured in one whole-graph pass, which layer-by-layer calibration does not make');
  if (checkpoint) refuse('--checkpoint', 'which vLLM does not apply: its cache would hold keys without the offset, quantized with scales observed on centered ones');
}

/** Whether compiling with these rules observes data: a calibrated scale, or key centering's means. */
function observesData(rules: RuleSet): boolean {
  const args = [...Object.values(rules.configGroups).map((g) => g.input_activations), ...(rules.kvCacheScheme ? [rules.kvCacheScheme] : [])];
  return args.some((a) => !a.dynamic) || rules.ctcExtensions.kCacheCentering !== null;
}

/**
 * Dynamic edges: their groups must split whole heads, and their scales exist only inside the
 * model, so neither a quantized cache interface nor vLLM (which loads k_scale/v_scale) can carry them.
 */
function checkDynamic(dynamicEdges: readonly QuantEdge[], plans: readonly SitePlan[], opts: CompileOptions, rules: RuleSet): void {
  if (dynamicEdges.length === 0) return;
  const cached = new Set(plans.filter((p) => p.site.cache !== null || p.site.kPast !== undefined).map((p) => p.site.name));
  // Where a site's args come from: its config group (Q, K and V), else kv_cache_scheme.
  const source = new Map(plans.map((p) => [p.site.name, p.group === undefined ? 'kv_cache_scheme' : `config_groups.${p.group}.input_activations`]));
  for (const e of dynamicEdges) {
    const why = whyNotGrouped(e);
    if (why !== undefined) throw new CtcError(`${rules.source}: the ${source.get(e.site)} group_size: ${why}. Nothing was written.`);
    // ctc quantizes the whole cache (past and new) at every step, so its quantization must leave
    // an already quantized cache as it is: asymmetric scales do (a group's dequantized min and max
    // are its own end codes); symmetric ones do not (amax sits at (q_max − q_min)/2 steps, past q_max:
    // clamped, so the next step's scale shrinks by 7/7.5 for int4, and the cache drifts step after step).
    if (e.role !== 'q' && e.args.symmetric && cached.has(e.site)) {
      throw new CtcError(
        `${rules.source}: ${e.site} ${e.role.toUpperCase()} is cached and quantized dynamically with symmetric: true; ctc quantizes the whole cache again at every decode step, and symmetric dynamic scales do not give a quantized cache back unchanged (its largest value clamps to q_max, so each step shrinks the scale by ${e.args.num_bits === 4 ? '7/7.5' : 'q_max/((q_max − q_min)/2)'}). Use symmetric: false. Nothing was written.`,
      );
    }
  }
  const which = `the rule set "${rules.name}" quantizes ${dynamicEdges[0]!.site} ${dynamicEdges[0]!.role.toUpperCase()} dynamically (scales computed in the model per token and group)`;
  if ((opts.cacheIo ?? 'float') === 'quantized') {
    throw new UsageError(`--cache-io quantized: ${which}; a quantized cache would need its per-token scales and zero points beside it as model inputs and outputs, which ctc does not write. Use --cache-io float (the cache is quantized inside the model) or a static rule set.`);
  }
  if (opts.checkpoint !== undefined) {
    throw new UsageError(`--checkpoint: ${which}; vLLM loads calibrated k_scale/v_scale and does not compute dynamic group scales for its cache. Leave out --checkpoint (the ONNX model and its config are still written) or use a static rule set.`);
  }
}

/** Every scale of an edge must be a normal number of its type: QuantizeLinear divides by it. */
function checkScales(e: QuantEdge, qp: QParams, r: Range, type: ScaleType, sets: number): void {
  qp.scale.forEach((s, h) => {
    const why = scaleProblem(s, type);
    if (why === undefined) return;
    const where = qp.scale.length > 1 ? ` (head ${h})` : '';
    const fix = Number.isFinite(r.min[h]!) && Number.isFinite(r.max[h]!)
      ? 'the activations on this edge are all but zero on the calibration data: calibrate on data that exercises this layer, or leave the site out with "ignore" in a rule file'
      : 'the statistics are not finite numbers: calibrate again on finite data';
    throw new CalibrationError(
      `edge ${e.scaleName}${where} of ${e.tensors[0]!.value.name}: the scale would be ${s}, which is ${why}, from the observed range [${r.min[h]}, ${r.max[h]}] over ${sets} set(s); ${fix}. Nothing was written.`,
    );
  });
}

export async function compile(opts: CompileOptions): Promise<CompileResult> {
  checkPathOptions(opts.outDir, opts.saveStats);
  const rules = withObserver(loadRuleSet(opts.rules), opts.observer);
  for (const w of rules.warnings) opts.warn(w);
  const ckpt = opts.checkpoint !== undefined ? readCheckpoint(opts.checkpoint) : undefined;
  if (ckpt !== undefined) checkCheckpointOutput(opts.outDir, ckpt);
  // The data sets are chosen by folder name before the model is read, so a bad selection fails at once.
  const fromStats = opts.stats !== undefined && opts.stats.length > 0;
  // A rule set whose every scale is dynamic, without centering, observes nothing: it needs no data.
  const needsData = !fromStats && opts.calibRandom === undefined && observesData(rules);
  const setDirs = needsData ? findDataSets(opts.model, opts.calib ?? [], opts.calibSets) : [];
  const { model, bytes } = readModelFile(opts.model);
  let data: DataSet[] = [];
  if (!fromStats) {
    if (opts.calibRandom !== undefined) data = randomSets(model, opts.calibRandom, opts.dims ?? new Map());
    else if (needsData) data = testDataSets(model, setDirs);
  }

  // Before any work: every write checked against every read; the staging folder taken.
  const layout = outputLayout(model, opts.externalData ?? false);
  const copyBytes = layout.external.reduce((n, e) => n + statSync(e.source).size, 0);
  const ckptLayout = ckpt !== undefined ? checkpointLayout(ckpt) : undefined;
  const writes = planWrites({
    reads: [
      ...(ckptLayout?.reads ?? []),
      { path: opts.model, what: 'the input model' },
      ...layout.external.map((e) => ({ path: e.source, what: `external data of the input model (${e.location})` })),
      { path: rules.source, what: 'the rule file' },
      ...(opts.stats ?? []).map((path) => ({ path, what: 'the --stats file' })),
      ...data.flatMap((set) => set.files.map((path) => ({ path, what: 'calibration data' }))),
    ],
    outDir: opts.outDir,
    outFiles: [...layout.files, ...(ckptLayout?.files ?? [])],
    saveStats: opts.saveStats,
    force: opts.force ?? false,
    // the model as big as the input, and the copies of its external data
    needBytes: statSync(opts.model).size + (opts.linkWeights ? 0 : copyBytes),
    ...(copyBytes > 0 && !opts.linkWeights ? { spaceHint: `${(copyBytes / 2 ** 20).toFixed(1)} MiB of it are the copy of the input's external data: --link-weights avoids that, at a cost (ctc compile --help)` } : {}),
    warn: opts.warn,
  });
  try {
    return await compilePlanned(opts, rules, model, bytes, data, layout, writes, ckpt);
  } finally {
    writes.release();
  }
}

async function compilePlanned(
  opts: CompileOptions,
  givenRules: RuleSet,
  model: Model,
  bytes: Uint8Array,
  data: DataSet[],
  layout: OutputLayout,
  writes: WritePlan,
  ckpt: InputCheckpoint | undefined,
): Promise<CompileResult> {
  const planned = plan(model, givenRules, opts.model, opts.stripPrefix, ckpt);
  // A rotation is exact only where Q·Kᵀ is the one product Q and K feed (rotate-qk's
  // whyNotRotated): other sites stay un-rotated, said here and written into the config's ignore.
  const unrotated = new Map<string, string>();
  for (const [site, r] of planned.rotations) {
    const why = whyNotRotated(site);
    if (why === undefined) continue;
    unrotated.set(site.name, r.scheme);
    opts.warn(`${site.name}: ${why}; its Q and K are not rotated (transform_config's ignore lists it)`);
  }
  const rotations = new Map([...planned.rotations].filter(([site]) => !unrotated.has(site.name)));
  // The config states the head_dim each transform was applied with, and the sites it skipped.
  const rules = withResolvedHeadDims(withIgnoredSites(givenRules, unrotated), rotations);
  const { sites, plans, rejected } = planned;
  // Calibrated edges get observers, statistics and stored scales; dynamic ones only their QDQ.
  const dynamicPlanned = planned.edges.filter((e) => e.args.dynamic);
  checkDynamic(dynamicPlanned, plans, opts, rules);
  // A Softmax or attention op that is not taken stays float: say so by name, never a silent miss
  // (a MoE router's Softmax, or a block with no per-head tensor to quantize).
  for (const r of rejected) opts.warn(`${rejectionLabel(r)} is left in float, not quantized: ${r.reason} (inspect --explain shows why)`);
  if (!(opts.externalData ?? false)) checkInlineSize(opts.model, bytes.byteLength, planned.edges);
  if (ckpt !== undefined) for (const w of checkServableByVllm(plans, sites, rules.name)) opts.warn(w);
  if (ckpt !== undefined && rotations.size > 0) {
    throw new UsageError(
      `--checkpoint: the rule set "${rules.name}" rotates Q and K (transform_config at q_attn/k_cache), which vLLM does not apply to attention; its cache would hold un-rotated keys quantized with scales observed on rotated ones. Leave out --checkpoint (the ONNX model and its config are still written) or use a rule set without transform_config.`,
    );
  }
  const centering = rules.ctcExtensions.kCacheCentering !== null;
  if (centering) checkCentering(opts, rules.name, ckpt !== undefined);
  const passes = new PassPipeline();
  const cacheIo = opts.cacheIo ?? 'float';
  // Statistics name the model they were observed on; with a transform, also the transforms (the
  // values are the same whichever cache I/O the transformed graph has).
  const transforms = [...(rotations.size > 0 ? [rules.transformConfig] : []), ...(centering ? [rules.ctcExtensions] : [])];
  const statsModel = transforms.length > 0 ? modelHash(Buffer.concat([bytes, Buffer.from(transforms.map((t) => JSON.stringify(t)).join(''))])) : modelHash(bytes);
  const fromStats = opts.stats !== undefined && opts.stats.length > 0;
  const merged = fromStats ? mergeStats(opts.stats!.map(readStats), opts.stats!) : undefined;
  if (merged !== undefined && merged.model !== statsModel) {
    throw new CtcError(`${opts.stats![0]}: these statistics were observed on another model than ${opts.model}${transforms.length > 0 ? ' transformed by this rule set' : ''}`);
  }
  // Key centering's first calibration pass: the mean keys of the float model, before any
  // transform, summed per set (a statistics file carries the sums of its sets).
  // Only where the offset leaves the site's outputs as they are (center-k's whyNotCentered).
  const keySites: Site[] = [];
  for (const p of centering ? plans : []) {
    const why = whyNotCentered(p.site, (v) => model.graph.outputs.includes(v));
    if (why === undefined) keySites.push(p.site);
    else opts.warn(`${p.site.name}: ${why}; its keys are quantized without centering`);
  }
  // How the user's sets run in onnxruntime, for the key-mean pass and for calibration alike:
  // each set's tensor sizes checked against this machine before onnxruntime sees it.
  const ortRun = {
    sets: sizeCheckedSets(data, model),
    providers: opts.providers ?? ['cpu'],
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.devices ? { devices: opts.devices } : {}),
    progress: opts.progress,
    warn: opts.warn,
  };
  let keySums = new Map<string, KeySum[]>();
  let means = new Map<Site, Float64Array>();
  if (centering && fromStats) {
    means = keyMeans(merged!.batches.map((b) => b.keySums), keySites, opts.stats!.join(', '));
  } else if (centering) {
    keySums = await measureKeySums(model, keySites, { bytes, modelPath: opts.model, ...ortRun });
    means = keyMeans([...keySums.values()], keySites, 'the calibration data');
  }
  // Rotations come first, so that calibration observes the rotated Q and K; the quantized
  // edges follow their values, and calibration runs the rotated model's own bytes.
  let carried = planned.edges;
  let calibrationBytes = bytes;
  let rotated: ReadonlyMap<Value, Value> = new Map();
  if (rotations.size > 0) {
    rotated = passes.run(rotateQkPass, model, rotations, cacheIo).rotated;
    carried = carryEdges(carried, (v) => rotated.get(v) ?? v);
  }
  // The offset in the space of the quantized keys: μ, or μ·H where they are rotated.
  const offsets = new Map([...means].map(([site, mean]) => [site, offsetOf(mean, site.numKvHeads, site.headDim, rotations.get(site)?.args.head_dim)]));
  if (centering) {
    const { centered } = passes.run(centerKPass, model, offsets, rotated, cacheIo);
    carried = carryEdges(carried, (v) => centered.get(v) ?? v);
  }
  const edges = carried.filter((e) => !e.args.dynamic);
  const dynamicEdges = carried.filter((e) => e.args.dynamic);
  if (rotations.size > 0 || centering) calibrationBytes = Buffer.concat(encodeModel(model).chunks);
  // Only attention groups name the class; a kv-only rule set needs none.
  const hasGroups = plans.some((p) => p.group !== undefined);
  const attentionClass = opts.attentionClass ?? (ckpt && hasGroups ? attentionClassOf(ckpt.config, join(ckpt.dir, 'config.json')) : undefined);

  // Statistics: merged from files, or observed now on a clone of the model.
  let stats: Omit<Stats, 'model'>;
  let calibrationSeconds = 0;
  let sets = 0;
  if (merged !== undefined) {
    stats = merged;
    checkStatsEdges(stats, edgeKeys(edges), opts.stats![0]!, `rule set "${rules.name}" quantizes on ${opts.model}`);
    sets = stats.batches.length;
  } else if (edges.length === 0) {
    // Every scale is dynamic: nothing to observe (key centering's sums, if any, are per set).
    stats = { format: 'ctc-stats/1', edges: [], batches: [...keySums].map(([set, sums]) => ({ set, edges: [], keySums: sums })) };
    sets = keySums.size;
  } else {
    if (opts.calibRandom !== undefined) {
      opts.warn(`calibrating on ${opts.calibRandom} set(s) of random inputs: random data is no calibration, and the scales will not fit real activations`);
    }
    const t0 = performance.now();
    const run = { modelPath: opts.model, edges, ...ortRun };
    const weights = model.graph.initializers.reduce((n, v) => n + tensorBytes(v.initializer!), 0);
    const tooLarge = opts.maxDeviceMemory !== undefined && weights > opts.maxDeviceMemory;
    if (tooLarge && !opts.layerwise) opts.warn(`the weights (${size(weights)}) exceed --max-device-memory (${size(opts.maxDeviceMemory!)}): calibrating layer by layer`);
    stats =
      opts.layerwise || tooLarge
        ? await calibrateLayerwise({ ...run, ...onClone(model, edges), observe: insertObservers, ...(opts.maxDeviceMemory !== undefined ? { budgetBytes: opts.maxDeviceMemory } : {}) })
        : await calibrate({ ...run, graph: observerGraph(model, calibrationBytes, edges, passes) });
    calibrationSeconds = (performance.now() - t0) / 1000;
    sets = data.length;
    if (centering) stats = { ...stats, batches: stats.batches.map((b) => ({ ...b, keySums: keySums.get(b.set)! })) };
  }
  if (writes.saveStats !== undefined) {
    // Saved statistics name their model by its hash, so that --stats refuses another model's.
    const saved: Stats = { ...stats, model: statsModel };
    makeFolder(dirname(writes.saveStats), `--save-stats ${opts.saveStats}`);
    writeFileAtomic(writes.saveStats, [Buffer.from(statsToJson(saved), 'utf8')]);
  }

  const qparams: QParams[] = edges.map((e, i) => {
    const r = reduceObserver(stats.batches, i, e.args);
    const type = scaleTypeOf(e.tensors[0]!);
    const qp = computeQParams(r.min, r.max, e.args, type);
    checkScales(e, qp, r, type, sets);
    return qp;
  });
  const opsetBefore = model.opsetVersion('') ?? 1;
  const qdq = edges.map((edge, i) => ({ edge, qparams: qparams[i]! }));
  // One upgrade for both kinds of pair: blocked (dynamic) pairs need opset 21 and IR 10.
  const staticNeeds = qdqNeeds(model, qdq);
  const needs = dynamicEdges.length === 0 ? staticNeeds : { opset: Math.max(staticNeeds.opset, DYNAMIC_QDQ_OPSET), irVersion: Math.max(staticNeeds.irVersion, DYNAMIC_QDQ_IR) };
  passes.run(upgradeOpsetPass, model, needs.opset, needs.irVersion);
  const rewrite = passes.run(insertQdqPass, model, qdq);
  const dynamicRewrite = passes.run(insertDynamicQdqPass, model, dynamicEdges);
  const cacheTensors = cacheIo === 'quantized' ? passes.run(cacheIoPass, model, sites).tensors : [];
  const record: CompileRecord = sortKeys({
    format: 'ctc-compile/1',
    // The model's folder and file name: which export it was, without the machine's paths.
    model: `${basename(dirname(resolve(opts.model)))}/${basename(opts.model)}`,
    rules: rules.name,
    calibration: { sets, from: opts.stats !== undefined && opts.stats.length > 0 ? 'stats' : edges.length === 0 && !centering ? 'none' : opts.calibRandom !== undefined ? 'random' : 'data' },
    opset: { before: opsetBefore, after: model.opsetVersion('') ?? 1 },
    sites: sites.map(siteToJson),
    refused: rejected,
    quantizedSites: plans.map((p) => p.site.name),
    edges: edges.map((e, i) => {
      const r = reduceObserver(stats.batches, i, e.args);
      return { site: e.site, layer: e.layer, role: e.role, args: e.args, heads: e.heads, min: [...r.min], max: [...r.max], scale: [...qparams[i]!.scale], zeroPoint: [...qparams[i]!.zeroPoint] };
    }),
    dynamicEdges: dynamicEdges.map((e) => ({ site: e.site, layer: e.layer, role: e.role, args: e.args, heads: e.heads })),
    files: [MODEL_FILE, ...(opts.externalData ? [EXTERNAL_DATA_FILE] : []), ...layout.external.map((e) => e.outLocation), CONFIG_FILE, SCALES_FILE, RECORD_FILE, ...(opts.report ? [REPORT_FILE] : [])].sort(),
  }) as CompileRecord;

  const groupSites = new Set(plans.filter((p) => p.group !== undefined).map((p) => p.site.name));
  let checkpoint: WrittenCheckpoint | undefined;
  const output = await writeOutputs(
    writes,
    model,
    layout,
    {
      [CONFIG_FILE]: `${JSON.stringify(quantizationConfig(rules, plans, sites, { form: 'recipe', attentionClass, centered: [...offsets.keys()].map((s) => s.name) }), null, 2)}\n`,
      [SCALES_FILE]: `${JSON.stringify(scalesJson(edges, qparams, groupSites, new Map([...offsets].map(([s, m]) => [s.name, { heads: s.numKvHeads, values: m }]))), null, 2)}\n`,
      [RECORD_FILE]: `${JSON.stringify(record, null, 2)}\n`,
      ...(opts.report ? { [REPORT_FILE]: renderReport(record) } : {}),
    },
    {
      externalData: opts.externalData ?? false,
      linkWeights: opts.linkWeights,
      progress: opts.progress,
      ...(ckpt !== undefined
        ? {
            writeMore: async (staging: string) => {
              const config = quantizationConfig(rules, plans, sites, { form: 'vllm', attentionClass });
              const written = await writeCheckpoint(staging, ckpt, config, scaleTensors(edges, qparams, groupSites), opts.progress);
              checkpoint = { ...written, dir: join(opts.outDir, written.dir) };
            },
          }
        : {}),
    },
  );
  return {
    sites: sites.length,
    quantizedSites: plans.length,
    edges: [
      ...edges.map((e, i) => ({
        site: e.site,
        layer: e.layer,
        role: e.role,
        strategy: e.args.strategy,
        dynamic: false,
        scaleMin: Math.min(...qparams[i]!.scale),
        scaleMax: Math.max(...qparams[i]!.scale),
      })),
      ...dynamicEdges.map((e) => ({ site: e.site, layer: e.layer, role: e.role, strategy: e.args.strategy, dynamic: true, scaleMin: null, scaleMax: null })),
    ],
    qdqPairs: rewrite.inserted + dynamicRewrite.inserted,
    calibrationSeconds,
    calibrationSets: sets,
    output,
    rules: rules.name,
    statsSaved: opts.saveStats,
    checkpoint,
    cacheIo: { mode: cacheIo, tensors: cacheTensors },
  };
}

export function compileResultJson(r: CompileResult): unknown {
  return sortKeys({ ...r, output: r.output ? { dir: r.output.dir, files: r.output.files, external: r.output.external.map(({ location, method, bytes }) => ({ location, method, bytes })) } : null, checkpoint: r.checkpoint ?? null });
}
