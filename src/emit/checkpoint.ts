/**
 * `compile --checkpoint DIR`: the Hugging Face checkpoint the ONNX model was exported from, and
 * OUTDIR/checkpoint/, the same checkpoint with the calibrated scales, which vLLM opens as a
 * compressed-tensors model (`vllm serve OUTDIR/checkpoint --kv-cache-dtype fp8`).
 *
 *   DIR/config.json ─────────────┐                 checkpoint/config.json (+ quantization_config)
 *   DIR/model.safetensors        │  readCheckpoint  checkpoint/model-00001-of-0000N.safetensors … (placed, unchanged)
 *   or DIR/model-*.safetensors ──┼───────────────▶  checkpoint/model-0000N-of-0000N.safetensors (the scales)
 *      + model.safetensors.index │                  checkpoint/model.safetensors.index.json (every tensor once)
 *   DIR/tokenizer*, … ───────────┘                  checkpoint/tokenizer*, … (copied)
 *
 * What vLLM reads, and so what this writes:
 * - the config only from config.json's `quantization_config` (model_executor/model_loader/
 *   weight_utils.py `get_quant_config`);
 * - only the safetensors files the index lists, when there is an index (weight_utils.py
 *   `filter_duplicate_safetensors_files`); transformers prefers a lone `model.safetensors` over
 *   an index, so a single-file input is placed as shard 1 of 2;
 * - the scales under llm-compressor's names, `<attention module>.{q,k,v}_scale` (+ zero points
 *   for attention groups), which weight_utils.py `maybe_remap_kv_scale_name` maps onto its
 *   Attention layer; float32, `[heads,1,1]` per head (compressed_tensors.py
 *   `CompressedTensorsKVCacheMethod` flattens them) or `[1]` per tensor.
 *
 * Weight files are placed by reflink, else copied: never hard-linked, so that nothing written
 * into the output can reach the user's checkpoint.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Site } from '../attention/site.js';
import { CtcError, UsageError, readFileChecked } from '../errors.js';
import type { Progress } from '../calibrate/run.js';
import { writeFileAtomic } from '../onnx/model-file.js';
import type { QuantizationArgs } from '../quant/args.js';
import type { QuantEdge } from '../quant/edges.js';
import type { QParams } from '../quant/qparams.js';
import type { SitePlan } from '../quant/edges.js';
import { sortKeys } from './config.js';
import { place } from './output.js';
import type { PlaceMethod } from './output.js';
import { encodeSafetensors, float32Bytes, readSafetensorsHeader } from './safetensors.js';
import type { SafetensorsHeader, TensorToWrite } from './safetensors.js';

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';
/** Weight formats other than safetensors: not carried into the output (vLLM reads the safetensors). */
const OTHER_WEIGHTS = /\.(bin|pt|pth|h5|msgpack|ckpt|gguf|onnx|onnx\.data)$/;

export interface InputCheckpoint {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  /** Weight files in the order they will be numbered, each with its header. */
  readonly shards: readonly { readonly file: string; readonly header: SafetensorsHeader }[];
  /** The index's metadata (besides total_size), kept as written. */
  readonly indexMetadata: Readonly<Record<string, unknown>>;
  /** Every tensor name of every shard. */
  readonly keys: ReadonlySet<string>;
  /** The folder's other files (tokenizer, generation config, ...), carried into the output as they are. */
  readonly otherFiles: readonly string[];
}

/** A file the machine refuses to read is an environment error (its fix); only text that does not parse is "not JSON". */
function readJson(path: string): unknown {
  const text = readFileChecked(path).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CtcError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The checkpoint at `dir`: its config and the headers of its safetensors shards, checked against its index. */
export function readCheckpoint(dir: string): InputCheckpoint {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CtcError(`--checkpoint ${dir}: not a folder (give the Hugging Face checkpoint folder: config.json and *.safetensors)`);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new CtcError(`--checkpoint ${dir}: has no config.json, so it is not a Hugging Face checkpoint folder`);
  const config = readJson(configPath);
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new CtcError(`${configPath}: not a JSON object`);
  if ('quantization_config' in config) {
    throw new CtcError(
      `${configPath}: already has a quantization_config; ctc adds attention and KV-cache quantization to an unquantized checkpoint only (merging into an existing compressed-tensors config is not supported)`,
    );
  }
  const indexPath = join(dir, INDEX);
  let files: string[];
  let indexMetadata: Record<string, unknown> = {};
  let weightMap: Record<string, string> | undefined;
  if (existsSync(indexPath)) {
    const index = readJson(indexPath) as { weight_map?: unknown; metadata?: unknown };
    if (index.weight_map === null || typeof index.weight_map !== 'object') throw new CtcError(`${indexPath}: has no weight_map`);
    weightMap = index.weight_map as Record<string, string>;
    const { total_size: _total, ...rest } = (index.metadata ?? {}) as Record<string, unknown>;
    indexMetadata = rest;
    files = [...new Set(Object.values(weightMap))].sort();
  } else if (existsSync(join(dir, SINGLE))) {
    files = [SINGLE];
  } else {
    const other = readdirSync(dir).filter((f) => OTHER_WEIGHTS.test(f));
    throw new CtcError(
      `--checkpoint ${dir}: no ${SINGLE} and no ${INDEX}${other.length ? ` (it has ${other.join(', ')}: save it as safetensors, e.g. save_pretrained(..., safe_serialization=True))` : ''}`,
    );
  }
  const shards = files.map((file) => {
    const path = join(dir, file);
    if (file.includes('/') || file.includes('\\') || !existsSync(path)) throw new CtcError(`${indexPath}: lists ${file}, which is not a file in ${dir}`);
    return { file, header: readSafetensorsHeader(path) };
  });
  const keys = new Set<string>();
  for (const s of shards) {
    for (const k of s.header.tensors.keys()) {
      if (keys.has(k)) throw new CtcError(`--checkpoint ${dir}: tensor ${k} is in two shards`);
      if (weightMap !== undefined && weightMap[k] !== s.file) throw new CtcError(`${indexPath}: tensor ${k} is in ${s.file} but the index says ${weightMap[k] ?? 'nothing'}`);
      keys.add(k);
    }
  }
  if (weightMap !== undefined) {
    const missing = Object.keys(weightMap).find((k) => !keys.has(k));
    if (missing !== undefined) throw new CtcError(`${indexPath}: lists ${missing} in ${weightMap[missing]}, which does not hold it`);
  }
  const otherFiles = readdirSync(dir)
    .sort()
    .filter((f) => !(f.startsWith('.') || f === 'config.json' || f === INDEX || f.endsWith('.safetensors') || OTHER_WEIGHTS.test(f)) && statSync(join(dir, f)).isFile());
  return { dir, config: config as Record<string, unknown>, shards, indexMetadata, keys, otherFiles };
}

/** Suffixes of Hugging Face model classes; what precedes them names the attention class. */
const HEAD_SUFFIXES = ['ForCausalLM', 'LMHeadModel', 'ForConditionalGeneration', 'ForSequenceClassification', 'ForQuestionAnswering', 'ForTokenClassification', 'Model'];

/**
 * The transformers attention class of the architecture (`LlamaForCausalLM` → `LlamaAttention`,
 * `GPT2LMHeadModel` → `GPT2Attention`): what llm-compressor's recipes target and the only
 * target form for which vLLM skips an attention config group.
 */
export function attentionClassOf(config: Record<string, unknown>, configPath: string): string {
  const archs = Array.isArray(config['architectures']) ? (config['architectures'] as unknown[]).filter((a): a is string => typeof a === 'string') : [];
  for (const a of archs) {
    const suffix = HEAD_SUFFIXES.find((s) => a.endsWith(s) && a.length > s.length);
    if (suffix !== undefined) return `${a.slice(0, -suffix.length)}Attention`;
  }
  throw new CtcError(
    `${configPath}: cannot tell the attention class from architectures ${JSON.stringify(archs)}; pass --attention-class NAME (the transformers class of its attention modules, e.g. LlamaAttention)`,
  );
}

/** Module names of the checkpoint: every dotted prefix of every tensor name. */
function modulesOf(keys: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const k of keys) {
    const parts = k.split('.');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('.'));
  }
  return out;
}

/**
 * The leading prefix to remove from every site name so that each names a module of the
 * checkpoint (an export that wrapped the model says `model.model.layers.0.self_attn`, the
 * checkpoint `model.layers.0.self_attn`): the shortest that fits every site. With
 * `userPrefix` (--strip-prefix), that prefix, checked. Fails naming both sides.
 */
export function checkpointPrefix(siteNames: readonly string[], ckpt: InputCheckpoint, userPrefix: string | undefined): string {
  const modules = modulesOf(ckpt.keys);
  const fits = (prefix: string): boolean => siteNames.every((n) => n.startsWith(prefix) && modules.has(n.slice(prefix.length)));
  const attentionLike = [...modules].filter((m) => /^(self_)?(attn|attention)$/i.test(m.slice(m.lastIndexOf('.') + 1)));
  const theirs = (attentionLike.length ? attentionLike : [...ckpt.keys]).slice(0, 4).join(', ');
  if (userPrefix !== undefined) {
    if (fits(userPrefix)) return userPrefix;
    const bad = siteNames.find((n) => !n.startsWith(userPrefix) || !modules.has(n.slice(userPrefix.length)))!;
    throw new CtcError(`--strip-prefix "${userPrefix}": site ${bad} does not become a module of the checkpoint ${ckpt.dir} (its attention modules: ${theirs}, …)`);
  }
  const first = siteNames[0] ?? '';
  const parts = first.split('.');
  for (let i = 0; i < parts.length; i++) {
    const prefix = i === 0 ? '' : `${parts.slice(0, i).join('.')}.`;
    if (fits(prefix)) return prefix;
  }
  throw new CtcError(
    `the attention sites of the model (${siteNames.slice(0, 2).join(', ')}, …) are not modules of the checkpoint ${ckpt.dir} (its attention modules: ${theirs}, …), with or without a leading prefix; ` +
      `check that --checkpoint is the checkpoint the model was exported from, or give the prefix that turns one into the other with --strip-prefix`,
  );
}

/**
 * Refuse an OUTDIR whose checkpoint/ would be the input checkpoint, inside it, or contain it:
 * replacing OUTDIR/checkpoint would then delete or change what it reads.
 */
export function checkCheckpointOutput(outDir: string, ckpt: InputCheckpoint): void {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : resolve(p));
  const target = join(real(outDir), 'checkpoint');
  const input = real(ckpt.dir);
  if (target === input || input.startsWith(`${target}${sep}`) || target.startsWith(`${input}${sep}`)) {
    throw new UsageError(`-o ${outDir}: its checkpoint/ folder would be, hold or sit inside the input checkpoint ${ckpt.dir}, which ctc never writes into; choose another -o folder`);
  }
}

export interface WrittenCheckpoint {
  readonly dir: string;
  readonly scalesFile: string;
  readonly scaleTensors: number;
  readonly weights: readonly { readonly from: string; readonly to: string; readonly method: PlaceMethod; readonly bytes: number }[];
}

/** The scale (and attention-group zero point) tensors of the edges, as the checkpoint holds them. */
export function scaleTensors(edges: readonly QuantEdge[], qparams: readonly QParams[], attentionGroupSites: ReadonlySet<string>): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  edges.forEach((e, i) => {
    const shape = e.args.strategy === 'attn_head' ? [e.heads, 1, 1] : [1];
    out.set(e.scaleName, { dtype: 'F32', shape, data: float32Bytes(qparams[i]!.scale) });
    // compressed-tensors registers zero points on attention-group modules (zp_dtype float8_e4m3fn
    // for fp8); symmetric, they are zeros, and float8 e4m3 zero is the byte 0.
    if (attentionGroupSites.has(e.site)) out.set(e.zeroPointName, { dtype: 'F8_E4M3', shape, data: new Uint8Array(shape[0]!) });
  });
  return out;
}

const shardName = (i: number, n: number): string => `model-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/** The output folder, relative to OUTDIR. */
const CHECKPOINT = 'checkpoint';

/**
 * What the checkpoint output reads and writes, known before any work so that the compile's write
 * plan checks it with the rest: the input files, and the files of OUTDIR/checkpoint/.
 */
export function checkpointLayout(ckpt: InputCheckpoint): { readonly reads: { path: string; what: string }[]; readonly files: string[] } {
  const n = ckpt.shards.length + 1;
  const reads = [
    { path: join(ckpt.dir, 'config.json'), what: 'the --checkpoint config' },
    ...(existsSync(join(ckpt.dir, INDEX)) ? [{ path: join(ckpt.dir, INDEX), what: 'the --checkpoint index' }] : []),
    ...ckpt.shards.map((s) => ({ path: join(ckpt.dir, s.file), what: 'a --checkpoint weight file' })),
    ...ckpt.otherFiles.map((f) => ({ path: join(ckpt.dir, f), what: 'a --checkpoint file' })),
  ];
  const files = ['config.json', INDEX, ...Array.from({ length: n }, (_, i) => shardName(i + 1, n)), ...ckpt.otherFiles].map((f) => join(CHECKPOINT, f));
  return { reads, files };
}

/**
 * Write OUTDIR/checkpoint/ into the compile's staging folder: config.json with
 * `quantizationConfig` merged, the weight shards placed, the scales as one more shard, the index,
 * the folder's other files. `dir` in the result is relative to OUTDIR.
 */
export async function writeCheckpoint(staging: string, ckpt: InputCheckpoint, quantizationConfig: Record<string, unknown>, tensors: ReadonlyMap<string, TensorToWrite>, progress: Progress): Promise<WrittenCheckpoint> {
  const clash = [...tensors.keys()].find((k) => ckpt.keys.has(k));
  if (clash !== undefined) throw new CtcError(`--checkpoint ${ckpt.dir}: already holds ${clash}; give the unquantized checkpoint`);
  const outDir = join(staging, CHECKPOINT);
  mkdirSync(outDir, { recursive: true });
  const n = ckpt.shards.length + 1;
  const weightMap: Record<string, string> = {};
  const weights: WrittenCheckpoint['weights'][number][] = [];
  let totalSize = 0;
  for (const [i, s] of ckpt.shards.entries()) {
    const to = shardName(i + 1, n);
    const from = join(ckpt.dir, s.file);
    // Never linked: the output must not share an inode with the user's checkpoint.
    weights.push({ from, to, method: await place(from, join(outDir, to), s.file, undefined, progress), bytes: statSync(from).size });
    for (const k of s.header.tensors.keys()) weightMap[k] = to;
    totalSize += s.header.dataBytes;
  }
  const scalesFile = shardName(n, n);
  writeFileAtomic(join(outDir, scalesFile), encodeSafetensors(tensors));
  for (const k of tensors.keys()) weightMap[k] = scalesFile;
  totalSize += [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0);
  const index = { metadata: { ...ckpt.indexMetadata, total_size: totalSize }, weight_map: sortKeys(weightMap) };
  writeFileAtomic(join(outDir, INDEX), [Buffer.from(`${JSON.stringify(index, null, 2)}\n`, 'utf8')]);
  const config = sortKeys({ ...ckpt.config, quantization_config: quantizationConfig });
  writeFileAtomic(join(outDir, 'config.json'), [Buffer.from(`${JSON.stringify(config, null, 2)}\n`, 'utf8')]);
  // Tokenizer, generation config and the like: a served checkpoint needs them as they are.
  for (const f of ckpt.otherFiles) await place(join(ckpt.dir, f), join(outDir, f), f, undefined, progress);
  return { dir: CHECKPOINT, scalesFile, scaleTensors: tensors.size, weights };
}

const argsWords = (a: QuantizationArgs): string => `${a.type === 'float' ? 'float' : 'int'}${a.num_bits} ${a.symmetric ? 'symmetric' : 'asymmetric'} ${a.strategy}`;

/**
 * Refuse, before anything runs, a plan vLLM cannot serve from a checkpoint (compressed_tensors.py
 * `CompressedTensorsKVCacheMethod.validate_kv_cache_scheme` and `create_weights`): vLLM serves 8-bit
 * float, symmetric caches, per tensor or per head, with one kv_cache_scheme for every layer.
 * Returns the warnings for what it serves differently.
 */
export function checkServableByVllm(plans: readonly SitePlan[], sites: readonly Site[], rulesName: string): string[] {
  const all = plans.flatMap((p) => [p.q, p.k, p.v]).filter((a): a is QuantizationArgs => a !== undefined);
  const unservable = all.find((a) => a.type !== 'float' || a.num_bits !== 8 || !a.symmetric);
  if (unservable !== undefined) {
    throw new CtcError(
      `rule set "${rulesName}" quantizes to ${argsWords(unservable)}, which vLLM cannot serve: vLLM serves 8-bit float (fp8 e4m3), symmetric KV caches only. ` +
        `Drop --checkpoint to write the ONNX model and its config alone, or use an fp8 rule set (fp8-head, fp8-tensor, fp8-kv-head, fp8-kv-tensor)`,
    );
  }
  if (new Set(all.map((a) => a.strategy)).size > 1) {
    throw new CtcError(
      `rule set "${rulesName}" mixes per-head and per-tensor scales across layers; vLLM reads one kv_cache_scheme for every layer, so its checkpoint needs one strategy. Drop --checkpoint, or use one strategy`,
    );
  }
  const bare = sites.filter((s) => !plans.some((p) => p.site === s));
  return bare.length === 0
    ? []
    : [
        `vLLM stores the KV cache of every layer in fp8 (--kv-cache-dtype fp8); ${bare.map((s) => s.name).join(', ')} ${bare.length === 1 ? 'has' : 'have'} no scales in the checkpoint, and vLLM gives them the scale 1.0`,
      ];
}
