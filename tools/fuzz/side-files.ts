/**
 * The files beside a model that a command line names: statistics files (synthesized for the
 * seed model and rule set, then maybe damaged), rule files (a built-in set with changed fields,
 * or broken JSON), and calibration tensors (input_K.pb with NaN/Inf, other dims or dtypes).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from 'onnx-buf';
import { ATTENTION_PATTERNS } from '../../src/attention/patterns/index.js';
import { findSites } from '../../src/attention/find-sites.js';
import { decodeModel } from '../../src/onnx/serde.js';
import { quantEdges } from '../../src/quant/edges.js';
import { builtinRuleFile, loadRuleSet } from '../../src/rules/load.js';
import { planSites } from '../../src/rules/targets.js';
import type { Seed } from './corpus.js';
import { mutateBytes } from './mutate-bytes.js';
import { mutateTensor } from './mutate-proto.js';
import type { Rng } from './rng.js';

export const BUILTIN_RULES = ['fp8-head', 'fp8-tensor', 'fp8-kv-head', 'fp8-kv-tensor', 'int8-head', 'int8-tensor', 'int4-kv-head', 'int4-kv-tensor'];

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The edges (site, role, heads) a built-in rule set quantizes on an unmutated seed; [] if none. */
const edgeCache = new Map<string, { site: string; role: string; heads: number }[]>();
function seedEdges(seed: Seed, rules: string): { site: string; role: string; heads: number }[] {
  const key = `${seed.name}/${rules}`;
  let edges = edgeCache.get(key);
  if (edges === undefined) {
    try {
      const sites = findSites(decodeModel(seed.model, { file: seed.name }), ATTENTION_PATTERNS).sites;
      edges = quantEdges(planSites(loadRuleSet(rules), sites)).map((e) => ({ site: e.site, role: e.role, heads: e.heads }));
    } catch {
      edges = [];
    }
    edgeCache.set(key, edges);
  }
  return edges;
}

const NASTY = [null, 'x', -1, 0, 1e-320, 1e308, '1e999', [], {}, true];

/** One statistics file: sets `first..first+count-1`, per-head ranges with distinct values. */
export function statsFile(rng: Rng, seed: Seed, rules: string, model: Uint8Array, first: number, count: number): { bytes: Uint8Array; what: string } {
  const edges = seedEdges(seed, rules);
  const batches = Array.from({ length: count }, (_, b) => ({
    set: `test_data_set_${first + b}`,
    edges: edges.map((e) => {
      const min = Array.from({ length: e.heads }, () => -rng.next() * 4 - 0.01);
      const max = Array.from({ length: e.heads }, () => rng.next() * 4 + 0.01);
      return { min, max, mseMin: min.map((x) => x * 0.9), mseMax: max.map((x) => x * 0.9) };
    }),
  }));
  const doc: Record<string, unknown> = { format: 'ctc-stats/1', model: sha256(model), edges, batches };
  if (!rng.chance(0.3)) return { bytes: Buffer.from(JSON.stringify(doc)), what: 'stats: valid' };
  // Damage: one field of the document, or its bytes.
  const what = rng.weighted([
    [3, 'value'],
    [1, 'heads'],
    [1, 'swap'],
    [1, 'format'],
    [1, 'empty'],
    [1, 'edges'],
    [1, 'bytes'],
    [1, 'hash'],
  ] as const);
  const b0 = batches[0];
  const e0 = b0?.edges.length ? rng.pick(b0.edges) : undefined;
  switch (what) {
    case 'value':
      if (e0) (rng.chance(0.5) ? e0.min : e0.max)[rng.int(0, e0.min.length - 1)] = rng.pick(NASTY) as number;
      break;
    case 'heads':
      if (e0) e0.max.push(1);
      break;
    case 'swap':
      if (e0) [e0.min, e0.max] = [e0.max, e0.min];
      break;
    case 'format':
      doc['format'] = rng.pick(['ctc-stats/2', '', 1]);
      break;
    case 'empty':
      doc['batches'] = rng.chance(0.5) ? [] : [{ set: 'test_data_set_0', edges: [] }];
      break;
    case 'edges':
      doc['edges'] = rng.chance(0.5) ? [] : [...edges, ...edges];
      break;
    case 'hash':
      doc['model'] = sha256(seed.model);
      break;
    case 'bytes':
      return { bytes: mutateBytes(rng, Buffer.from(JSON.stringify(doc)), []).bytes, what: 'stats: bytes damaged' };
  }
  // 1e999 must reach the file as a number literal, not a string.
  return { bytes: Buffer.from(JSON.stringify(doc).replace(/"1e999"/g, '1e999')), what: `stats: ${what} damaged` };
}

/** A rule file: a built-in set with one field changed, or damaged JSON. */
export function ruleFile(rng: Rng, base: string): { bytes: Uint8Array; what: string } {
  const text = readFileSync(builtinRuleFile(base), 'utf8');
  if (rng.chance(0.15)) return { bytes: mutateBytes(rng, Buffer.from(text), []).bytes, what: `rules: ${base} bytes damaged` };
  const doc = JSON.parse(text) as Record<string, any>;
  const args = Object.values(doc['config_groups'] as Record<string, any>)[0]?.input_activations ?? doc['kv_cache_scheme'];
  const field = rng.pick(['num_bits', 'type', 'strategy', 'symmetric', 'dynamic', 'observer', 'group_size', 'observer_kwargs', 'targets', 'ignore', 'extra', 'kv']);
  const value = rng.pick<unknown>([0, 1, 3, 4, 8, 16, 64, -8, 'float', 'int', 'attn_head', 'tensor', 'channel', 'group', 'token', 'mse', 'bogus', true, false, null, [], {}, { averaging_constant: 2 }, { maxshrink: -1 }, 1e308]);
  switch (field) {
    case 'targets':
    case 'ignore': {
      const target = rng.pick(['attention', 'LlamaAttention', 're:.*', 're:(.+)+z$', 're:[', 're:layers\\.0$', '', 'no.such.site', 're:.*self_attn$', 're:(a|a)*b', 're:\\']);
      for (const g of Object.values(doc['config_groups'] as Record<string, any>)) g.targets = field === 'targets' ? [target] : g.targets;
      if (field === 'ignore') doc['ignore'] = [target];
      break;
    }
    case 'extra':
      doc[rng.pick(['format', 'quant_method', 'config_groups', 'kv_cache_scheme'])] = value;
      break;
    case 'kv':
      doc['kv_cache_scheme'] = rng.chance(0.5) ? args : value;
      break;
    default:
      if (args) args[field] = value;
  }
  return { bytes: Buffer.from(JSON.stringify(doc)), what: `rules: ${base} ${field} = ${JSON.stringify(value)}` };
}

/** One calibration tensor file, damaged as a TensorProto or as bytes. */
export function damagedInput(rng: Rng, bytes: Uint8Array): { bytes: Uint8Array; what: string } {
  if (rng.chance(0.25)) return mutateBytes(rng, bytes, []);
  try {
    const t = fromBinary(TensorProtoSchema, bytes);
    const what = mutateTensor(rng, t);
    return { bytes: toBinary(TensorProtoSchema, t), what: `input: ${what}` };
  } catch {
    return mutateBytes(rng, bytes, []);
  }
}
