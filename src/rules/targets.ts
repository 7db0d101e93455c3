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
import type { RuleSet } from './schema.js';

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

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
