/**
 * Rule sets written in YAML: llm-compressor's recipe shape, or the rule-file shape itself.
 *
 *   quant_stage:                        ─ any stage name
 *     quant_modifiers:                  ─ any `*_modifiers` group
 *       QuantizationModifier:           ─ the one modifier ctc can apply
 *         config_groups: {...}          ┐
 *         kv_cache_scheme: {...}        │ as in a JSON rule file
 *         ignore: [...]                 ┘
 *         targets: [...]  scheme: FP8   ─ a preset: expanded as compressed-tensors' PRESET_SCHEMES
 *
 * The recipe becomes a rule-file object for the one validator (schema.ts); every message that
 * validator gives is located at the line of the YAML node it is about. Anything that asks for
 * weight quantization (other modifiers, presets, groups on Linear) is refused with the reason.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { RuleError } from '../errors.js';

/** A rule-file object and where each of its paths came from in the YAML. */
export interface YamlRules {
  readonly json: unknown;
  /** `file:line: yaml.path` of the YAML node a dotted rule-file path was read from. */
  readonly locate: (rulePath: string) => string;
}

/**
 * compressed-tensors' preset schemes (quant_scheme.py PRESET_SCHEMES), reduced to what matters
 * here: every one but UNQUANTIZED quantizes weights; the activation part, when it is static,
 * is what an attention group could use instead.
 */
const PRESETS: Readonly<Record<string, { weights: string; activations: string | null }>> = {
  UNQUANTIZED: { weights: '', activations: null },
  FP8: { weights: 'float8 per tensor', activations: '{num_bits: 8, type: float, strategy: tensor}' },
  FP8_DYNAMIC: { weights: 'float8 per channel', activations: null },
  FP8_BLOCK: { weights: 'float8 128x128 blocks', activations: null },
  W8A8: { weights: 'int8 per channel', activations: null },
  INT8: { weights: 'int8 per channel', activations: null },
  W4A16: { weights: 'int4 groups of 128', activations: null },
  W4A16_ASYM: { weights: 'int4 asymmetric groups of 128', activations: null },
  W8A16: { weights: 'int8 groups of 128', activations: null },
  W4A8: { weights: 'int4 groups of 128', activations: null },
  W4AFP8: { weights: 'int4 groups of 128', activations: null },
  NVFP4: { weights: 'fp4 groups of 16', activations: null },
  NVFP4A16: { weights: 'fp4 groups of 16', activations: null },
  MXFP4: { weights: 'fp4 groups of 32', activations: null },
  MXFP4A16: { weights: 'fp4 groups of 32', activations: null },
  MXFP8: { weights: 'fp8 groups of 32', activations: null },
  MXFP8A16: { weights: 'fp8 groups of 32', activations: null },
};

const RULE_KEYS = ['config_groups', 'kv_cache_scheme', 'ignore'];
const MODIFIER_KEYS = [...RULE_KEYS, 'targets', 'scheme'];

export function parseRecipeYaml(text: string, file: string): YamlRules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (offset: number): number => lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new RuleError(`${file}:${lineOf(e.pos[0])}: not valid YAML (${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')})`);
  }
  /** `file:line` of the key (or sequence item) at `path`, or of the nearest enclosing one that exists. */
  const at = (path: readonly (string | number)[]): string => {
    for (let p = [...path]; p.length > 0; p = p.slice(0, -1)) {
      const parent = p.length === 1 ? doc.contents : doc.getIn(p.slice(0, -1), true);
      const last = p[p.length - 1]!;
      let node: { range?: [number, number, number] | null | undefined } | undefined;
      if (isMap(parent)) node = parent.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === String(last))?.key as typeof node;
      else if (isSeq(parent)) node = parent.items[Number(last)] as typeof node;
      if (node?.range) return `${file}:${lineOf(node.range[0])}`;
    }
    return doc.contents?.range ? `${file}:${lineOf(doc.contents.range[0])}` : file;
  };
  const fail = (path: readonly (string | number)[], msg: string): never => {
    throw new RuleError(`${at(path)}: ${path.join('.') || '(top level)'}: ${msg}`);
  };
  const top = doc.toJS() as unknown;
  if (top === null || typeof top !== 'object' || Array.isArray(top)) fail([], 'a rule set is a mapping (a recipe `quant_stage: quant_modifiers: QuantizationModifier: ...`, or config_groups / kv_cache_scheme / ignore)');
  const topKeys = Object.keys(top as object);
  // The rule-file shape, written in YAML.
  if (topKeys.some((k) => RULE_KEYS.includes(k) || k === 'description' || k === '$comment')) {
    return { json: top, locate: (p) => `${at(p ? p.split('.') : [])}: ${p || '(top level)'}` };
  }
  const base = findQuantizationModifier(doc, top as Record<string, unknown>, fail);
  const modifier = doc.getIn(base) as unknown;
  const m = ((modifier !== null && typeof modifier === 'object' ? (doc.getIn(base, true) as { toJSON(): unknown }).toJSON() : {}) ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (!MODIFIER_KEYS.includes(k)) fail([...base, k], `ctc applies a QuantizationModifier's ${MODIFIER_KEYS.join(', ')}; "${k}" is not one of them`);
  }
  const groups: Record<string, unknown> = {};
  const groupSource = new Map<string, (string | number)[]>();
  for (const [g, value] of Object.entries((m['config_groups'] ?? {}) as Record<string, unknown>)) {
    // A list value means "preset name = group key, value = targets" (QuantizationConfig.model_post_init).
    if (Array.isArray(value)) refusePreset(g, value as string[], [...base, 'config_groups', g], fail);
    groups[g] = value;
    groupSource.set(g, [...base, 'config_groups', g]);
  }
  if (m['scheme'] !== undefined) {
    const targets = (m['targets'] ?? ['Linear']) as string[];
    if (typeof m['scheme'] === 'string') refusePreset(m['scheme'], targets, [...base, 'scheme'], fail);
    for (const [preset, ts] of Object.entries(m['scheme'] as Record<string, unknown>)) refusePreset(preset, ts as string[], [...base, 'scheme', preset], fail);
  } else if (m['targets'] !== undefined) {
    fail([...base, 'targets'], '`targets` goes with `scheme`; give attention groups in config_groups instead');
  }
  for (const [g, value] of Object.entries(groups)) {
    const v = value as { targets?: unknown; weights?: unknown };
    if (v && v.weights !== undefined && v.weights !== null && Array.isArray(v.targets) && v.targets.some(isLinearTarget)) {
      fail([...groupSource.get(g)!, 'weights'], `targets ${JSON.stringify(v.targets)} and weights: weight quantization of linear layers is llm-compressor's job; ctc quantizes only attention (Q, K, V) and the KV cache. Remove this group (a kv_cache_scheme alone quantizes the cache)`);
    }
  }
  const json: Record<string, unknown> = { config_groups: groups };
  if (m['kv_cache_scheme'] !== undefined) json['kv_cache_scheme'] = m['kv_cache_scheme'];
  if (m['ignore'] !== undefined) json['ignore'] = m['ignore'];
  return { json, locate: (p) => `${at([...base, ...(p ? p.split('.') : [])])}: ${[...base, ...(p ? p.split('.') : [])].join('.')}` };
}

const isLinearTarget = (t: unknown): boolean => typeof t === 'string' && (t === 'Linear' || /_proj\$?$|lm_head/.test(t));

/** A preset always asks for more than attention can take: say what, and what to write instead. */
function refusePreset(name: string, targets: readonly string[], path: (string | number)[], fail: (p: (string | number)[], m: string) => never): void {
  const preset = PRESETS[name.toUpperCase()];
  if (preset === undefined) fail(path, `unknown preset scheme "${name}"; presets are ${Object.keys(PRESETS).join(', ')}`);
  if (targets.some(isLinearTarget)) {
    fail(path, `preset ${name.toUpperCase()} on ${JSON.stringify(targets)} quantizes the weights of linear layers (${preset!.weights}), which is llm-compressor's job; ctc quantizes only attention (Q, K, V) and the KV cache. Remove it (a kv_cache_scheme alone quantizes the cache)`);
  }
  if (name.toUpperCase() === 'UNQUANTIZED') fail(path, 'Cannot apply attention quantization without specifying input activations');
  fail(
    path,
    `preset ${name.toUpperCase()} sets weights (${preset!.weights}) as well as activations, and compressed-tensors refuses it on attention: Cannot apply weight quantization to attention. ` +
      (preset!.activations !== null
        ? `For ${name.toUpperCase()} attention, write a config group with only its activation part: targets: ${JSON.stringify(targets)}, input_activations: ${preset!.activations}`
        : 'Its activations are dynamic, which attention cannot take either: write a config group with static input_activations (e.g. {num_bits: 8, type: float, strategy: attn_head})'),
  );
}

/** The path of the recipe's one QuantizationModifier: stage → `*_modifiers` → QuantizationModifier. */
function findQuantizationModifier(doc: Document, top: Record<string, unknown>, fail: (p: (string | number)[], m: string) => never): (string | number)[] {
  const found: (string | number)[][] = [];
  const groupsIn = (obj: Record<string, unknown>, prefix: string[]): void => {
    for (const [k, v] of Object.entries(obj)) {
      if (!k.endsWith('_modifiers')) continue;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail([...prefix, k], 'a modifier group maps modifier names to their arguments');
      for (const name of Object.keys(v as object)) {
        if (name === 'QuantizationModifier') found.push([...prefix, k, name]);
        else {
          fail(
            [...prefix, k, name],
            /GPTQ|AWQ|SmoothQuant|SparseGPT|Wanda|Pruning|SpinQuant|QuIP|AutoRound/i.test(name)
              ? `${name} changes or quantizes weights; ctc applies only a QuantizationModifier's attention and KV-cache parts`
              : `ctc applies only a QuantizationModifier's attention and KV-cache parts, not ${name}`,
          );
        }
      }
    }
  };
  groupsIn(top, []);
  for (const [stage, v] of Object.entries(top)) if (!stage.endsWith('_modifiers') && v !== null && typeof v === 'object' && !Array.isArray(v)) groupsIn(v as Record<string, unknown>, [stage]);
  if (found.length === 0) fail([], 'no QuantizationModifier found; a recipe reads `quant_stage: quant_modifiers: QuantizationModifier: {config_groups, kv_cache_scheme, ignore}`');
  if (found.length > 1) fail(found[1]!, `a second QuantizationModifier (the first is at ${found[0]!.join('.')}); ctc applies one`);
  if (!isMap(doc.getIn(found[0]!, true)) && doc.getIn(found[0]!) !== null) fail(found[0]!, 'a QuantizationModifier maps its argument names to values');
  return found[0]!;
}
