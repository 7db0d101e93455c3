/**
 * The rule-file schema: compressed-tensors' recipe shape (config_groups of QuantizationScheme,
 * kv_cache_scheme, ignore), validated with zod, then checked against what attention and the KV
 * cache can take. Messages use compressed-tensors' own wording where it has one, and always
 * name the file and the key.
 */
import { z } from 'zod';
import { RuleError } from '../errors.js';
import type { ObserverName, QuantizationArgs, Strategy } from '../quant/args.js';
import { compileTargetRegex } from './regex.js';

const STRATEGIES = ['tensor', 'channel', 'group', 'block', 'token', 'tensor_group', 'attn_head'] as const;
const OBSERVERS = ['static_minmax', 'minmax', 'memoryless_minmax', 'mse'] as const;

const lower = (values: readonly string[]) =>
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(values as [string, ...string[]]));

const argsSchema = z.strictObject({
  num_bits: z.number().int().positive().default(8),
  type: lower(['int', 'float']).default('int'),
  symmetric: z.boolean().default(true),
  group_size: z.number().int().nullable().default(null),
  strategy: lower(STRATEGIES).nullable().default(null),
  block_structure: z.union([z.array(z.number().int()), z.string()]).nullable().default(null),
  dynamic: z.union([z.boolean(), z.literal('local')]).default(false),
  actorder: z.union([z.string(), z.boolean()]).nullable().default(null),
  scale_dtype: z.string().nullable().default(null),
  zp_dtype: z.string().nullable().default(null),
  observer: z.string().nullable().default(null),
  observer_kwargs: z.record(z.string(), z.number()).default({}),
});

const schemeSchema = z.strictObject({
  targets: z.array(z.string()).min(1),
  weights: argsSchema.nullable().default(null),
  input_activations: argsSchema.nullable().default(null),
  output_activations: argsSchema.nullable().default(null),
  format: z.string().nullable().default(null),
});

/** compressed-tensors' TransformArgs: `targets` and `ignore` may be one string, as its validator wraps them. */
const oneOrMany = z.union([z.string().transform((t) => [t]), z.array(z.string())]);
const transformArgsSchema = z.strictObject({
  targets: oneOrMany,
  location: z.string(),
  inverse: z.boolean().default(false),
  ignore: oneOrMany.default([]),
});

/** compressed-tensors' TransformScheme (transform_scheme.py), every field with its default. */
const transformSchemeSchema = z.strictObject({
  type: z.string(),
  apply: z.array(transformArgsSchema).default([]),
  randomize: z.boolean().default(false),
  requires_grad: z.boolean().default(false),
  head_dim: z.number().int().nullable().default(null),
  precision: z.string().default('torch.float32'),
});

const transformConfigSchema = z.strictObject({ config_groups: z.record(z.string(), transformSchemeSchema) });

/**
 * ctc's own transforms, which compressed-tensors cannot state (so vLLM does not apply them):
 * `k_cache_centering` subtracts, before the keys are quantized, the mean of each key head's
 * channels over the calibration data (after the transform_config rotation, if any).
 */
const ctcExtensionsSchema = z.strictObject({
  $comment: z.string().optional(),
  k_cache_centering: z.strictObject({ $comment: z.string().optional(), statistic: z.literal('mean').default('mean') }).optional(),
});

export const ruleFileSchema = z.strictObject({
  $comment: z.string().optional(),
  description: z.string().default(''),
  config_groups: z.record(z.string(), schemeSchema).default({}),
  kv_cache_scheme: argsSchema.nullable().default(null),
  ignore: z.array(z.string()).default([]),
  transform_config: transformConfigSchema.nullable().default(null),
  ctc_extensions: ctcExtensionsSchema.nullable().default(null),
});

/** Where an online transform runs: compressed-tensors' TransformLocation for attention. */
export type TransformLocation = 'q_attn' | 'k_cache';

export interface TransformArgs {
  readonly targets: readonly string[];
  readonly location: TransformLocation;
  readonly inverse: boolean;
  readonly ignore: readonly string[];
}

/**
 * A Hadamard TransformScheme as ctc applies it: the orthonormal Sylvester matrix of order
 * `head_dim` (a power of two), block-diagonal over each head, computed in `precision`.
 * `head_dim: null` means the model's head dim (what SpinQuantModifier fills in from the model's
 * config; compressed-tensors itself needs the number): compile resolves it and writes the number.
 */
export interface TransformScheme {
  readonly type: 'hadamard';
  readonly apply: readonly TransformArgs[];
  readonly randomize: false;
  readonly requires_grad: boolean;
  readonly head_dim: number | null;
  readonly precision: 'torch.float32' | 'torch.float64';
}

export interface TransformConfig {
  readonly config_groups: Readonly<Record<string, TransformScheme>>;
}

/** ctc_extensions of a rule file: transforms beyond compressed-tensors' fields (see ctcExtensionsSchema). */
export interface CtcExtensions {
  /** Subtract each key head's calibrated per-channel mean before quantization (exact for attention). */
  readonly kCacheCentering: { readonly statistic: 'mean' } | null;
}

export interface QuantizationScheme {
  readonly targets: readonly string[];
  readonly input_activations: QuantizationArgs;
  readonly format: 'dense';
}

export interface RuleSet {
  readonly name: string;
  readonly source: string;
  readonly description: string;
  readonly configGroups: Readonly<Record<string, QuantizationScheme>>;
  readonly kvCacheScheme: QuantizationArgs | null;
  readonly ignore: readonly string[];
  /** Rotations before quantization (SpinQuant R3), or null. */
  readonly transformConfig: TransformConfig | null;
  readonly ctcExtensions: CtcExtensions;
  readonly warnings: readonly string[];
}

type RawArgs = z.infer<typeof argsSchema>;

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * compressed-tensors' QuantizationArgs validation (validate_model_after) plus the rules for
 * attention and the KV cache; returns the normalized args or throws with the key path.
 */
function checkArgs(raw: RawArgs, where: string, fail: (path: string, msg: string) => never, warn: (m: string) => void): QuantizationArgs {
  let strategy = raw.strategy as Strategy | null;
  const gs = raw.group_size;
  if (strategy === null) {
    if (gs === null) strategy = 'tensor';
    else if (gs > 0) strategy = 'group';
    else if (gs === -1) strategy = 'channel';
    else fail(`${where}.group_size`, `Invalid group size ${gs}. Use group_size > 0 for strategy='group' and group_size = -1 for 'channel'`);
  }
  if (strategy === 'token' && !raw.dynamic) fail(`${where}.strategy`, 'Cannot perform static token quantization, please use `dynamic=True`');
  if ((strategy === 'group' || strategy === 'tensor_group') && !(gs !== null && gs > 0)) {
    fail(`${where}.group_size`, `strategy ${strategy} requires group_size to be set to a positive value`);
  }
  if (gs !== null && gs > 0 && strategy !== 'group' && strategy !== 'tensor_group') fail(`${where}.group_size`, "group_size requires strategy to be set to 'group'");
  if ((strategy === 'block') !== (raw.block_structure !== null)) fail(`${where}.block_structure`, 'block strategy and block_structure go together');
  if (raw.dynamic !== false && !['token', 'tensor', 'tensor_group', 'group'].includes(strategy!)) {
    fail(`${where}.dynamic`, `One of (token, tensor, tensor_group, group) must be used for dynamic quant.`);
  }
  if (raw.dynamic === 'local' && strategy !== 'tensor_group') fail(`${where}.dynamic`, 'local is only supported for strategy tensor_group');
  // Attention and the KV cache: static per tensor or per head, calibrated; or dynamic per group
  // of the last axis (compressed-tensors' compute_dynamic_scales_and_zp unflattens the last dim
  // of the (B, H, S, D) tensor into groups: with group_size dividing head_dim, scales per token,
  // head and group, computed as the values arrive).
  if (raw.dynamic === true) {
    if (strategy === 'token') {
      fail(
        `${where}.strategy`,
        "dynamic token quantization of attention is not supported: on an attention tensor (B, H, S, D) compressed-tensors' token strategy keeps only the batch and head dims, so it gives one scale per batch and head, not per token. For one scale per token and head, use strategy group with group_size = head_dim (or a divisor of it)",
      );
    }
    if (strategy !== 'group') fail(`${where}.strategy`, `dynamic ${strategy} quantization of attention is not supported; dynamic quantization of attention takes strategy group (group_size dividing head_dim: scales per token and head)`);
    if (raw.type === 'float') fail(`${where}.type`, 'dynamic float8 quantization of attention is not supported; dynamic group quantization takes type int');
  } else {
    if (raw.dynamic === 'local') fail(`${where}.dynamic`, 'dynamic "local" (tensor_group, NVFP4) cannot be applied to attention in ONNX QDQ');
    if (strategy !== 'tensor' && strategy !== 'attn_head') fail(`${where}.strategy`, `${cap(strategy!)} quantization cannot be applied to attention`);
  }
  if (raw.type === 'float' && raw.num_bits !== 8) {
    fail(`${where}.num_bits`, raw.num_bits === 4 ? 'float4 (e2m1) attention is not supported: onnxruntime has no float4 QuantizeLinear kernel' : `float quantization needs num_bits 8 (float8 e4m3), got ${raw.num_bits}`);
  }
  if (raw.type === 'int' && ![2, 4, 8, 16].includes(raw.num_bits)) fail(`${where}.num_bits`, `integer quantization takes num_bits 2, 4, 8 or 16, got ${raw.num_bits}`);
  if (raw.type === 'float' && !raw.symmetric) fail(`${where}.symmetric`, 'asymmetric float quantization is not supported');
  if (raw.actorder !== null && raw.actorder !== false) fail(`${where}.actorder`, 'actorder applies to weights, not to attention activations');
  const dynamic = raw.dynamic === true;
  // compressed-tensors sets a dynamic scheme's observer to None: its scales are not observed
  if (dynamic && raw.observer !== null && raw.observer !== 'memoryless') warn(`${where}.observer: "${raw.observer}" is ignored: dynamic scales are computed from each tensor as it arrives, not observed (compressed-tensors sets the observer to None)`);
  const observer = dynamic ? null : ((raw.observer ?? 'static_minmax') as ObserverName);
  if (observer !== null && !(OBSERVERS as readonly string[]).includes(observer)) fail(`${where}.observer`, `unknown observer "${raw.observer}"; one of ${OBSERVERS.join(', ')}`);
  if (!raw.symmetric) warn(`${where}: vLLM does not support asymmetric kv cache quantization`);
  return {
    num_bits: raw.num_bits,
    type: raw.type as 'int' | 'float',
    symmetric: raw.symmetric,
    group_size: gs,
    strategy: strategy!,
    block_structure: null,
    dynamic,
    actorder: null,
    scale_dtype: raw.scale_dtype,
    zp_dtype: raw.symmetric ? null : 'torch.int8',
    observer,
    observer_kwargs: raw.observer_kwargs,
  };
}

/**
 * Validate parsed JSON as a rule set; `file` names the source in every message, or `locate`
 * (YAML) turns a dotted key path into `file:line: path` of the node it was read from.
 */
export function parseRuleSet(json: unknown, name: string, file: string, locate?: (path: string) => string): RuleSet {
  const fail = (path: string, msg: string): never => {
    throw new RuleError(`${locate ? locate(path === '(top level)' ? '' : path) : `${file}: ${path}`}: ${msg}`);
  };
  const parsed = ruleFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.join(', ');
      fail(path === '(top level)' ? keys : `${path}.${keys}`, 'Extra inputs are not permitted');
    }
    fail(path, issue.message);
  }
  const r = parsed.data!;
  const warnings: string[] = [];
  const groups: Record<string, QuantizationScheme> = {};
  for (const [g, scheme] of Object.entries(r.config_groups)) {
    const where = `config_groups.${g}`;
    if (scheme.weights !== null) fail(`${where}.weights`, 'Cannot apply weight quantization to attention. Instead, target the (q|k|v)_proj submodule layers of attention');
    if (scheme.output_activations !== null) fail(`${where}.output_activations`, 'Cannot apply output quantization to attention');
    if (scheme.input_activations === null) fail(where, 'Cannot apply attention quantization without specifying input activations');
    if (scheme.format !== null && scheme.format !== 'dense') fail(`${where}.format`, `attention groups are stored "dense", not "${scheme.format}"`);
    groups[g] = { targets: scheme.targets, input_activations: checkArgs(scheme.input_activations!, `${where}.input_activations`, fail, (m) => warnings.push(m)), format: 'dense' };
  }
  const kv = r.kv_cache_scheme === null ? null : checkArgs(r.kv_cache_scheme, 'kv_cache_scheme', fail, (m) => warnings.push(m));
  if (Object.keys(groups).length === 0 && kv === null) fail('(top level)', 'the rule set quantizes nothing: give config_groups targeting attention, a kv_cache_scheme, or both');
  for (const [i, t] of r.ignore.entries()) checkTarget(t, `ignore.${i}`, fail);
  for (const [g, s] of Object.entries(groups)) s.targets.forEach((t, i) => checkTarget(t, `config_groups.${g}.targets.${i}`, fail));
  const transformConfig = r.transform_config === null ? null : checkTransformConfig(r.transform_config, fail);
  const centering = r.ctc_extensions?.k_cache_centering;
  const ctcExtensions: CtcExtensions = { kCacheCentering: centering === undefined ? null : { statistic: centering.statistic } };
  return { name, source: file, description: r.description, configGroups: groups, kvCacheScheme: kv, ignore: r.ignore, transformConfig, ctcExtensions, warnings };
}

const LOCATIONS = ['input', 'weight_input', 'weight_output', 'output', 'k_cache', 'q_attn'];
const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * What ctc can apply of a transform_config: Hadamard rotations of Q and K over head_dim
 * (`q_attn`, `k_cache`), deterministic, each scheme on both locations of the same sites so
 * that QKᵀ is unchanged. The rest is refused with the reason, naming the key.
 */
function checkTransformConfig(raw: z.infer<typeof transformConfigSchema>, fail: (path: string, msg: string) => never): TransformConfig {
  const groups: Record<string, TransformScheme> = {};
  const entries = Object.entries(raw.config_groups);
  if (entries.length === 0) fail('transform_config.config_groups', 'no transform scheme: give one (SpinQuant R3: type "hadamard" at q_attn and k_cache) or leave transform_config out');
  for (const [name, s] of entries) {
    const where = `transform_config.config_groups.${name}`;
    if (s.type !== 'hadamard') {
      const why = s.type === 'random-hadamard' || s.type === 'random-matrix' ? 'its matrix is drawn from PyTorch\'s random generator, which ctc cannot reproduce' : 'compressed-tensors registers hadamard, random-hadamard, random-matrix';
      fail(`${where}.type`, `transform type "${s.type}" is not supported: ${why}; ctc applies "hadamard" (the deterministic Sylvester matrix)`);
    }
    if (s.randomize) fail(`${where}.randomize`, 'randomized transforms permute the matrix with PyTorch\'s random generator, which ctc cannot reproduce; use randomize: false');
    if (s.head_dim !== null && !isPowerOfTwo(s.head_dim)) {
      fail(`${where}.head_dim`, `${s.head_dim} is not a power of two: the deterministic Hadamard matrix (Sylvester's construction) exists only for powers of two, and compressed-tensors refuses it too; use a power-of-two block that divides the head dim (e.g. 16 for a head dim of 48)`);
    }
    const precision = `torch.${s.precision.replace(/^torch\./, '')}`;
    if (precision !== 'torch.float32' && precision !== 'torch.float64') fail(`${where}.precision`, `"${s.precision}": ctc rotates in torch.float32 or torch.float64`);
    if (s.apply.length === 0) fail(`${where}.apply`, 'the scheme applies nowhere: give {"targets": [...], "location": "q_attn"} and the same for "k_cache"');
    const apply = s.apply.map((a, i): TransformArgs => {
      if (!LOCATIONS.includes(a.location)) fail(`${where}.apply.${i}.location`, `"${a.location}" is not a TransformLocation (${LOCATIONS.join(', ')})`);
      if (a.location !== 'q_attn' && a.location !== 'k_cache') {
        fail(`${where}.apply.${i}.location`, `"${a.location}" transforms Linear weights or activations (SpinQuant R1, R2, R4); ctc quantizes attention and rotates only Q and K inside it (q_attn, k_cache)`);
      }
      if (a.targets.length === 0) fail(`${where}.apply.${i}.targets`, 'no targets');
      [...a.targets, ...a.ignore].forEach((t, j) => checkTarget(t, `${where}.apply.${i}.${j < a.targets.length ? `targets.${j}` : `ignore.${j - a.targets.length}`}`, fail));
      return { targets: a.targets, location: a.location as TransformLocation, inverse: a.inverse, ignore: a.ignore };
    });
    // Q·Kᵀ is unchanged only when Q and K turn by the same orthonormal matrix.
    const key = (a: TransformArgs): string => JSON.stringify([a.targets, a.ignore]);
    const q = apply.filter((a) => a.location === 'q_attn').map(key).sort();
    const k = apply.filter((a) => a.location === 'k_cache').map(key).sort();
    if (JSON.stringify(q) !== JSON.stringify(k)) {
      fail(`${where}.apply`, 'q_attn and k_cache must be applied to the same targets (and ignore): a rotation of Q without the same rotation of K (or the reverse) changes Q·Kᵀ, i.e. the model');
    }
    groups[name] = { type: 'hadamard', apply, randomize: false, requires_grad: s.requires_grad, head_dim: s.head_dim, precision };
  }
  return { config_groups: groups };
}

function checkTarget(t: string, path: string, fail: (p: string, m: string) => never): void {
  if (t.startsWith('re:')) {
    const re = compileTargetRegex(t.slice(3));
    if ('error' in re) fail(path, `invalid regular expression ${t}: ${re.error}`);
  } else if (t === '') fail(path, 'empty target');
}
