/**
 * Which sites a transform_config rotates (planRotations) and the head_dim written back
 * (withResolvedHeadDims), in-process so that mutation testing sees them. The reference is
 * compressed-tensors' apply_transform_config as docs/reference/compressed-tensors.md §3.3 and
 * llm-compressor's SpinQuantModifier(rotations=["R3"]) describe it:
 *
 *   for each scheme, for each TransformArgs `a`: the modules matching `a.targets` (same target
 *   syntax as quantization: re.match, class names) minus those matching `a.ignore` get the
 *   Hadamard rotation at `a.location` (q_attn, k_cache), block size head_dim.
 *
 * The expectations are written by hand from that description: which layers, which block size,
 * which refusal and its message. The sites are the four of the trained Llama corpus model
 * (model.model.layers.{0..3}.self_attn, head dim 32), some copied with another head dim or
 * without a query edge to reach the refusals.
 */
import { describe, expect, it } from 'vitest';
import type { Site } from '../../src/attention/site.js';
import { scanModelFile } from '../../src/cli/inspect.js';
import { RuleError } from '../../src/errors.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import type { RuleSet } from '../../src/rules/schema.js';
import { planRotations, withIgnoredSites, withResolvedHeadDims } from '../../src/rules/targets.js';
import { corpusModel } from '../harness/paths.js';

const { sites } = scanModelFile(corpusModel('llama-gqa-bytes-ts-eager'));
const KV = { num_bits: 8, type: 'float', strategy: 'tensor' };
const name = (l: number): string => `model.model.layers.${l}.self_attn`;

/** A hadamard scheme at q_attn and k_cache of the same targets (and ignore), as the schema demands. */
const scheme = (targets: string[], extra: { head_dim?: number | null; ignore?: string[]; precision?: string } = {}) => {
  const { ignore = [], ...rest } = extra;
  return {
    type: 'hadamard',
    apply: [
      { targets, location: 'q_attn', ignore },
      { targets, location: 'k_cache', ignore },
    ],
    ...rest,
  };
};
const rules = (groups: Record<string, unknown>): RuleSet => parseRuleSet({ kv_cache_scheme: KV, transform_config: { config_groups: groups } }, 'r', 'r.json');

/** [layer, scheme, block] per rotated site, in site order. */
const plan = (r: RuleSet, on: readonly Site[] = sites): [number, string, number][] => {
  const rot = planRotations(r, on);
  return on.filter((s) => rot.has(s)).map((s) => [s.layer, rot.get(s)!.scheme, rot.get(s)!.args.head_dim]);
};

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RuleError);
    return (e as Error).message;
  }
  throw new Error('not refused');
};

describe('planRotations: which sites each scheme rotates', () => {
  it('the sites are the ones this file assumes', () => {
    expect(sites.map((s) => [s.name, s.headDim, s.q !== undefined])).toEqual([0, 1, 2, 3].map((l) => [name(l), 32, true]));
  });

  it('no transform_config rotates nothing', () => {
    const r = parseRuleSet({ kv_cache_scheme: KV }, 'r', 'r.json');
    expect(r.transformConfig).toBeNull();
    expect(planRotations(r, sites).size).toBe(0);
  });

  it('SpinQuant R3 as llm-compressor writes it (re:.*self_attn$, head_dim 32) rotates every self_attn with its args', () => {
    const r = rules({ R3: scheme(['re:.*self_attn$'], { head_dim: 32, precision: 'torch.float64' }) });
    const rot = planRotations(r, sites);
    expect(rot.size).toBe(4);
    for (const s of sites) {
      expect(rot.get(s)).toEqual({
        scheme: 'R3',
        args: {
          type: 'hadamard',
          apply: [
            { targets: ['re:.*self_attn$'], location: 'q_attn', inverse: false, ignore: [] },
            { targets: ['re:.*self_attn$'], location: 'k_cache', inverse: false, ignore: [] },
          ],
          randomize: false,
          requires_grad: false,
          head_dim: 32,
          precision: 'torch.float64',
        },
      });
    }
  });

  it('targets match as quantization targets do: re.match from the start, exact names, class names, "attention"', () => {
    expect(plan(rules({ R3: scheme(['re:.*layers\\.[13]\\.self_attn$']) }))).toEqual([
      [1, 'R3', 32],
      [3, 'R3', 32],
    ]);
    // re.match: a pattern matching inside the name but not at its start selects nothing
    expect(plan(rules({ R3: scheme(['re:layers\\.1\\.self_attn$']) }))).toEqual([]);
    expect(plan(rules({ R3: scheme([name(2)]) }))).toEqual([[2, 'R3', 32]]);
    expect(plan(rules({ R3: scheme(['LlamaAttention']) })).map((p) => p[0])).toEqual([0, 1, 2, 3]);
    expect(plan(rules({ R3: scheme(['attention']) })).map((p) => p[0])).toEqual([0, 1, 2, 3]);
    expect(plan(rules({ R3: scheme(['model.model.layers.2']) }))).toEqual([]);
  });

  it('a site matched by any one of the targets is rotated (targets are a union)', () => {
    expect(plan(rules({ R3: scheme([name(0), 're:.*\\.3\\.self_attn$']) })).map((p) => p[0])).toEqual([0, 3]);
  });

  it('ignore removes a site matched by any one of its entries, and only that site', () => {
    expect(plan(rules({ R3: scheme(['attention'], { ignore: [name(1)] }) })).map((p) => p[0])).toEqual([0, 2, 3]);
    expect(plan(rules({ R3: scheme(['attention'], { ignore: ['re:.*\\.0\\.self_attn$', name(2)] }) })).map((p) => p[0])).toEqual([1, 3]);
    expect(plan(rules({ R3: scheme(['attention'], { ignore: ['attention'] }) }))).toEqual([]);
  });

  it('ignore is per TransformArgs: the rule set\'s top-level ignore does not remove a site from a rotation', () => {
    const r = parseRuleSet({ kv_cache_scheme: KV, ignore: [name(0)], transform_config: { config_groups: { R3: scheme(['attention']) } } }, 'r', 'r.json');
    expect(plan(r).map((p) => p[0])).toEqual([0, 1, 2, 3]);
  });

  it('two schemes on disjoint sites each rotate their own, with their own block', () => {
    const r = rules({ A: scheme([name(0), name(1)], { head_dim: 16 }), B: scheme([name(2), name(3)], { head_dim: 8 }) });
    expect(plan(r)).toEqual([
      [0, 'A', 16],
      [1, 'A', 16],
      [2, 'B', 8],
      [3, 'B', 8],
    ]);
  });

  it('head_dim null is the site\'s head dim; a power-of-two head_dim that divides it gives a block-diagonal rotation', () => {
    const s48 = { ...sites[1]!, headDim: 48 };
    const s64 = { ...sites[2]!, headDim: 64 };
    expect(plan(rules({ R3: scheme(['attention']) }), [sites[0]!, s64])).toEqual([
      [0, 'R3', 32],
      [2, 'R3', 64],
    ]);
    expect(plan(rules({ R3: scheme(['attention'], { head_dim: 16 }) }), [sites[0]!, s48, s64])).toEqual([
      [0, 'R3', 16],
      [1, 'R3', 16],
      [2, 'R3', 16],
    ]);
    expect(plan(rules({ R3: scheme(['attention'], { head_dim: 1 }) }), [s48]).map((p) => p[2])).toEqual([1]);
  });
});

describe('planRotations: refusals name the rule file, the scheme, the site and the fix', () => {
  it('a site two schemes target is refused; the two locations of one scheme on one site are not', () => {
    expect(plan(rules({ R3: { type: 'hadamard', apply: [{ targets: [name(0)], location: 'q_attn' }, { targets: [name(0)], location: 'k_cache' }, { targets: ['attention'], location: 'q_attn' }, { targets: ['attention'], location: 'k_cache' }] } })).map((p) => p[0])).toEqual([0, 1, 2, 3]);
    expect(refusal(() => planRotations(rules({ A: scheme(['re:.*\\.[01]\\.self_attn$']), B: scheme([name(1), name(3)]) }), sites))).toBe(
      'r.json: transform_config: attention site model.model.layers.1.self_attn is targeted by schemes "A" and "B"; one rotation per site',
    );
    // the same sites, the other scheme first: the message names them in file order
    expect(refusal(() => planRotations(rules({ B: scheme([name(1), name(3)]), A: scheme(['re:.*\\.[01]\\.self_attn$']) }), sites))).toMatch(/site model\.model\.layers\.1\.self_attn is targeted by schemes "B" and "A"/);
  });

  it('a site without a query edge is refused: K alone cannot be rotated', () => {
    const noQ = { ...sites[2]!, q: undefined };
    expect(refusal(() => planRotations(rules({ R3: scheme(['attention']) }), [sites[0]!, noQ]))).toBe(
      'r.json: transform_config.config_groups.R3: attention site model.model.layers.2.self_attn has no query edge that ctc can rotate (q_attn), so its keys cannot be rotated either',
    );
    // not targeted, it does not matter
    expect(plan(rules({ R3: scheme([name(0)]) }), [sites[0]!, noQ])).toEqual([[0, 'R3', 32]]);
  });

  it('head_dim null on a head dim that is not a power of two is refused, suggesting a block', () => {
    const s48 = { ...sites[3]!, headDim: 48 };
    expect(refusal(() => planRotations(rules({ R3: scheme(['attention']) }), [sites[0]!, s48]))).toBe(
      'r.json: transform_config.config_groups.R3.head_dim: attention site model.model.layers.3.self_attn has head dim 48, not a power of two, and the deterministic Hadamard matrix exists only for powers of two; set head_dim to a power of two that divides it (the rotation is then block-diagonal)',
    );
    for (const d of [3, 6, 12, 96, 80]) expect(() => planRotations(rules({ R3: scheme(['attention']) }), [{ ...sites[0]!, headDim: d }])).toThrow(/not a power of two/);
  });

  it('a head_dim that does not divide the site\'s head dim is refused', () => {
    expect(refusal(() => planRotations(rules({ R3: scheme(['attention'], { head_dim: 64 }) }), sites))).toBe(
      'r.json: transform_config.config_groups.R3.head_dim: 64 does not divide the head dim 32 of attention site model.model.layers.0.self_attn',
    );
    expect(refusal(() => planRotations(rules({ R3: scheme(['attention'], { head_dim: 32 }) }), [sites[0]!, { ...sites[1]!, headDim: 48 }]))).toBe(
      'r.json: transform_config.config_groups.R3.head_dim: 32 does not divide the head dim 48 of attention site model.model.layers.1.self_attn',
    );
  });

  it('an invalid regex reaching the planner is refused with the rule file', () => {
    const r = rules({ R3: scheme(['attention']) });
    const bad: RuleSet = { ...r, transformConfig: { config_groups: { R3: { ...r.transformConfig!.config_groups['R3']!, apply: r.transformConfig!.config_groups['R3']!.apply.map((a) => ({ ...a, targets: ['re:(a'] })) } } } };
    expect(refusal(() => planRotations(bad, sites))).toMatch(/^r\.json: invalid regular expression re:\(a: /);
  });
});

describe('withResolvedHeadDims: the transform_config written back states the head_dim it applied', () => {
  it('without a transform_config the rule set is returned as it is', () => {
    const r = parseRuleSet({ kv_cache_scheme: KV }, 'r', 'r.json');
    expect(withResolvedHeadDims(r, new Map())).toBe(r);
  });

  it('head_dim null becomes the sites\' head dim, per scheme; an explicit head_dim stays; the rest of the rule set is kept', () => {
    const s64 = [2, 3].map((i) => ({ ...sites[i]!, headDim: 64 }));
    const on = [sites[0]!, sites[1]!, ...s64];
    const r = rules({ A: scheme([name(0), name(1)]), B: scheme([name(2), name(3)]), C: scheme(['attention'], { head_dim: 8, ignore: ['attention'] }) });
    const out = withResolvedHeadDims(r, planRotations(r, on));
    const g = out.transformConfig!.config_groups;
    expect([g['A']!.head_dim, g['B']!.head_dim, g['C']!.head_dim]).toEqual([32, 64, 8]);
    expect(g['A']).toEqual({ ...r.transformConfig!.config_groups['A']!, head_dim: 32 });
    expect({ ...out, transformConfig: null }).toEqual({ ...r, transformConfig: null });
    // the given rule set is not changed
    expect(r.transformConfig!.config_groups['A']!.head_dim).toBeNull();
  });

  it('a scheme with head_dim null that rotates no site keeps null (there is no head dim to state)', () => {
    const r = rules({ R3: scheme(['re:nothing$']) });
    expect(withResolvedHeadDims(r, planRotations(r, sites)).transformConfig!.config_groups['R3']!.head_dim).toBeNull();
  });

  it('a scheme with head_dim null whose sites have two head dims is refused: one number cannot state both', () => {
    const r = rules({ R3: scheme(['attention']) });
    const on = [sites[0]!, { ...sites[1]!, headDim: 64 }, sites[2]!];
    expect(refusal(() => withResolvedHeadDims(r, planRotations(r, on)))).toBe(
      'r.json: transform_config.config_groups.R3 has head_dim null, and its sites have head dims 32 and 64; write the head_dim to use',
    );
  });
});

describe('withIgnoredSites: sites a scheme targeted but left un-rotated are written into its ignore', () => {
  it('nothing skipped, or no transform_config: the rule set is returned as it is', () => {
    const r = rules({ R3: scheme(['attention']) });
    expect(withIgnoredSites(r, new Map())).toBe(r);
    const plain = parseRuleSet({ kv_cache_scheme: KV }, 'r', 'r.json');
    expect(withIgnoredSites(plain, new Map([[name(1), 'R3']]))).toBe(plain);
  });

  it("each apply entry of the scheme that planned the site gains it once, after the ignore it had; other schemes and the given rule set are unchanged; read back, the skipped sites are not planned", () => {
    const r = rules({ A: scheme([name(0), name(1)], { ignore: [name(3)] }), B: scheme([name(2), name(3)]) });
    const out = withIgnoredSites(r, new Map([[name(1), 'A'], [name(3), 'A']]));
    const g = out.transformConfig!.config_groups;
    expect(g['A']!.apply.map((a) => [a.location, a.ignore])).toEqual([
      ['q_attn', [name(3), name(1)]],
      ['k_cache', [name(3), name(1)]],
    ]);
    expect(g['B']).toEqual(r.transformConfig!.config_groups['B']);
    expect(r.transformConfig!.config_groups['A']!.apply[0]!.ignore).toEqual([name(3)]);
    expect(plan(out)).toEqual([
      [0, 'A', 32],
      [2, 'B', 32],
      [3, 'B', 32],
    ]);
  });
});
