/**
 * Which sites a rule set quantizes, and how: targets and ignore entries are `attention` (every
 * site), a class-like name ending in "Attention" (LlamaAttention: every site, since an ONNX
 * graph has no Python classes), an exact site name, or `re:<regex>` matched from the start of
 * the site name as Python's re.match does, in linear time (regex.ts).
 *
 * Narrow matching, as compressed-tensors' is_narrow_match: a regex target must match the site
 * but not its parent module nor its q/k/v/o projections. A target that names a whole layer
 * (`re:model\.layers\.0\..*`) is refused with an explanation, never widened or narrowed silently.
 */
import { RuleError } from '../errors.js';
import type { Site } from '../attention/site.js';
import type { QuantizationArgs } from '../quant/args.js';
import type { SitePlan } from '../quant/edges.js';
import { compileTargetRegex } from './regex.js';
import type { TargetRegex } from './regex.js';
import type { RuleSet, TransformScheme } from './schema.js';

const PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

type Matches = (target: string, name: string) => boolean;

/** A target matcher that compiles each `re:` pattern once (per planning, no shared state). */
function targetMatcher(fail: (msg: string) => never): Matches {
  const compiled = new Map<string, TargetRegex>();
  return (target, name) => {
    if (target === 'attention' || /^[A-Z]\w*Attention$/.test(target)) return true;
    if (!target.startsWith('re:')) return target === name;
    let re = compiled.get(target);
    if (re === undefined) {
      const c = compileTargetRegex(target.slice(3));
      if ('error' in c) fail(`invalid regular expression ${target}: ${c.error}`);
      re = c as TargetRegex;
      compiled.set(target, re);
    }
    return re.matches(name);
  };
}

function parentOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? name : name.slice(0, i);
}

/** Why a target that matches a site is not narrow, or undefined if it is. */
export function notNarrowBecause(target: string, name: string, matches: Matches = targetMatcher((m) => { throw new RuleError(m); })): string | undefined {
  if (!target.startsWith('re:')) return undefined;
  const parent = parentOf(name);
  if (parent === name) return `the site name ${name} has no parent module, so no regex can name it narrowly (use "attention" or the exact name)`;
  if (matches(target, parent)) return `it also matches ${parent}, the module that contains the attention: it names the whole layer, not its attention`;
  const child = PROJECTIONS.map((p) => `${name}.${p}`).find((c) => matches(target, c));
  if (child !== undefined) return `it also matches ${child}, a projection inside the attention: it names the projections too`;
  return undefined;
}

export function planSites(rules: RuleSet, sites: readonly Site[]): SitePlan[] {
  const fail = (msg: string): never => {
    throw new RuleError(`${rules.source}: ${msg}`);
  };
  const matches = targetMatcher(fail);
  const ignored = (s: Site): boolean => rules.ignore.some((t) => matches(t, s.name));
  const groupOf = new Map<Site, [string, QuantizationArgs]>();
  for (const [g, scheme] of Object.entries(rules.configGroups)) {
    for (const target of scheme.targets) {
      for (const s of sites) {
        if (!matches(target, s.name)) continue;
        const why = notNarrowBecause(target, s.name, matches);
        if (why !== undefined) {
          fail(
            `config_groups.${g}: target "${target}" matches attention site ${s.name}, but ${why}. compressed-tensors refuses such a target as not narrow; write "re:${escapeRegex(s.name)}$" or "attention" instead.`,
          );
        }
        // The first group that targets a site wins, as in compressed-tensors.
        if (!ignored(s) && !groupOf.has(s)) groupOf.set(s, [g, scheme.input_activations]);
      }
    }
  }
  const plans: SitePlan[] = [];
  for (const s of sites) {
    const g = groupOf.get(s);
    if (g !== undefined) {
      plans.push({ site: s, group: g[0], q: s.q ? g[1] : undefined, k: g[1], v: g[1] });
    } else if (rules.kvCacheScheme !== null && s.cache !== null) {
      // compressed-tensors applies kv_cache_scheme to every attention with a cache; ignore is not consulted.
      plans.push({ site: s, group: undefined, q: undefined, k: rules.kvCacheScheme, v: rules.kvCacheScheme });
    }
  }
  return plans;
}

/** The rotation of one site's Q and K (a transform_config scheme that targets it), head_dim resolved. */
export interface SiteRotation {
  readonly scheme: string;
  readonly args: TransformScheme & { readonly head_dim: number };
}

/**
 * Which sites each transform scheme rotates (compressed-tensors matches transform targets as
 * it matches quantization targets, minus `ignore`). A site two schemes rotate, or one without a
 * Q edge to rotate, is refused; the schema has checked that q_attn and k_cache go together.
 */
export function planRotations(rules: RuleSet, sites: readonly Site[]): Map<Site, SiteRotation> {
  const out = new Map<Site, SiteRotation>();
  if (rules.transformConfig === null) return out;
  const fail = (msg: string): never => {
    throw new RuleError(`${rules.source}: ${msg}`);
  };
  const matches = targetMatcher(fail);
  for (const [name, scheme] of Object.entries(rules.transformConfig.config_groups)) {
    for (const a of scheme.apply) {
      for (const s of sites) {
        if (!a.targets.some((t) => matches(t, s.name)) || a.ignore.some((t) => matches(t, s.name))) continue;
        const had = out.get(s);
        if (had !== undefined && had.scheme !== name) fail(`transform_config: attention site ${s.name} is targeted by schemes "${had.scheme}" and "${name}"; one rotation per site`);
        if (s.q === undefined) fail(`transform_config.config_groups.${name}: attention site ${s.name} has no query edge that ctc can rotate (q_attn), so its keys cannot be rotated either`);
        const block = scheme.head_dim ?? s.headDim;
        if (scheme.head_dim === null && (s.headDim & (s.headDim - 1)) !== 0) {
          fail(
            `transform_config.config_groups.${name}.head_dim: attention site ${s.name} has head dim ${s.headDim}, not a power of two, and the deterministic Hadamard matrix exists only for powers of two; set head_dim to a power of two that divides it (the rotation is then block-diagonal)`,
          );
        }
        if (s.headDim % block !== 0) {
          fail(`transform_config.config_groups.${name}.head_dim: ${block} does not divide the head dim ${s.headDim} of attention site ${s.name}`);
        }
        out.set(s, { scheme: name, args: { ...scheme, head_dim: block } });
      }
    }
  }
  return out;
}

/**
 * The rule set with each transform scheme's `head_dim: null` replaced by the head dim it was
 * resolved to on the model, as the written config must state it. Sites of one scheme with
 * different head dims cannot share one number, and are refused.
 */
export function withResolvedHeadDims(rules: RuleSet, rotations: ReadonlyMap<Site, SiteRotation>): RuleSet {
  if (rules.transformConfig === null) return rules;
  const groups: Record<string, TransformScheme> = {};
  for (const [name, scheme] of Object.entries(rules.transformConfig.config_groups)) {
    const dims = [...new Set([...rotations.values()].filter((r) => r.scheme === name).map((r) => r.args.head_dim))];
    if (dims.length > 1) {
      throw new RuleError(`${rules.source}: transform_config.config_groups.${name} has head_dim null, and its sites have head dims ${dims.join(' and ')}; write the head_dim to use`);
    }
    groups[name] = { ...scheme, head_dim: scheme.head_dim ?? dims[0] ?? null };
  }
  return { ...rules, transformConfig: { config_groups: groups } };
}

/**
 * The rule set with the sites a scheme targeted but that were left un-rotated (`skipped`: site
 * name → the scheme that planned it) added to every apply entry's `ignore` of that scheme, so
 * that the written transform_config says exactly which sites were rotated (and planRotations,
 * reading it back, plans the same).
 */
export function withIgnoredSites(rules: RuleSet, skipped: ReadonlyMap<string, string>): RuleSet {
  if (rules.transformConfig === null || skipped.size === 0) return rules;
  const groups: Record<string, TransformScheme> = {};
  for (const [name, scheme] of Object.entries(rules.transformConfig.config_groups)) {
    const names = [...skipped].filter(([, s]) => s === name).map(([site]) => site);
    groups[name] = names.length === 0 ? scheme : { ...scheme, apply: scheme.apply.map((a) => ({ ...a, ignore: [...a.ignore, ...names.filter((n) => !a.ignore.includes(n))] })) };
  }
  return { ...rules, transformConfig: { config_groups: groups } };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
