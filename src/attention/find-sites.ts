/**
 * Finds every attention site of a model, narrowly: each attention pattern is tried at its
 * anchor ops; a draft is accepted only if its internal values are not used outside the block
 * and its heads are known. Every Softmax and fused attention op that is not taken is reported
 * with the reason (for `ctc inspect --explain`).
 *
 * Heads are read from attributes, declared shapes, weights and shape constants
 * (static-shapes.ts), and, where the head reshape uses runtime sizes, from the width of the
 * projection that feeds it (projection-heads.ts); when they cannot be read, that is an error naming the site and what was
 * missing, never a guess.
 */
import { MatchError } from '../errors.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { Op, opKey } from '../onnx/ops.js';
import { ShapeFacts } from '../shapes/static-shapes.js';
import type { AttentionPattern, SiteDraft } from './pattern-types.js';
import type { Edge, Site } from './site.js';
import { scopeOf, layerOf } from './naming.js';
import { projectionSource } from './projection.js';
import { projectionHeads } from './projection-heads.js';

export interface Rejection {
  readonly node: string;
  readonly op: string;
  readonly reason: string;
}

/** How a rejection names its node in messages: the op and the node's name. */
export function rejectionLabel(r: Rejection): string {
  return `${r.op} ${r.node || '(unnamed)'}`;
}

export interface SiteScan {
  readonly sites: Site[];
  readonly rejected: Rejection[];
}

/** Ops that look like attention and are reported when not taken. */
const ATTENTION_LIKE = [Op.Softmax, Op.Attention, Op.MsAttention, Op.MsMultiHeadAttention, Op.MsGroupQueryAttention, Op.FlexAttention];

export function findSites(model: Model, patterns: readonly AttentionPattern[]): SiteScan {
  const facts = new ShapeFacts();
  const drafts: { pattern: string; anchor: Node; draft: SiteDraft }[] = [];
  // Per anchor, the failure of the pattern that matched furthest into it (the most telling reason).
  const failures = new Map<Node, { reason: string; depth: number }>();
  const claimed = new Set<Node>();

  for (const node of model.graph.nodes) {
    for (const p of patterns) {
      if (!p.anchors.some((a) => node.is(a))) continue;
      // Cheap pre-check for the common anchor: a MatMul that is not fed by a Softmax chain.
      if (node.is(Op.MatMul) && !reachesSoftmax(node.inputs[0])) continue;
      const r = p.match(node, facts);
      if (!r.ok) {
        const depth = r.depth ?? 0;
        if ((failures.get(node)?.depth ?? -1) < depth) failures.set(node, { reason: `${p.name}: ${r.reason}`, depth });
        continue;
      }
      const outside = usedOutside(r.site, node);
      if (outside !== undefined) {
        failures.set(node, { reason: `${p.name}: ${outside}`, depth: Infinity });
        continue;
      }
      drafts.push({ pattern: p.name, anchor: node, draft: r.site });
      claimed.add(node);
      for (const n of r.site.internal) claimed.add(n);
      break;
    }
  }

  const sites: Site[] = [];
  const used = new Map<string, number>();
  drafts.forEach(({ pattern, anchor, draft }, index) => {
    const scope = scopeOf(anchor);
    let name = scope ?? `attention.${index}`;
    const n = used.get(name) ?? 0;
    used.set(name, n + 1);
    if (n > 0) name = `${name}.${n}`;
    const heads = resolveHeads(draft, facts, name);
    sites.push({
      name,
      layer: layerOf(name) ?? index,
      pattern,
      variant: draft.variant,
      kind: kindOf(draft, facts),
      ...heads,
      q: draft.q,
      k: draft.k,
      v: draft.v,
      ...(draft.kPast ? { kPast: draft.kPast } : {}),
      ...(draft.vPast ? { vPast: draft.vPast } : {}),
      cache: draft.cache,
      anchor,
    });
  });

  const rejected: Rejection[] = [];
  for (const node of model.graph.nodes) {
    if (claimed.has(node) || !ATTENTION_LIKE.some((o) => node.is(o))) continue;
    let reason = failures.get(node)?.reason;
    if (reason === undefined && node.is(Op.Softmax)) {
      const consumer = softmaxConsumer(node);
      reason = consumer ? (failures.get(consumer)?.reason ?? `its probabilities reach ${opKey(consumer.op)} ${consumer.name}, not the second MatMul of an attention block`) : 'its output does not feed a MatMul with V';
    }
    rejected.push({ node: node.name, op: opKey(node.op), reason: reason ?? 'no attention pattern applies' });
  }
  return { sites, rejected };
}

/** Ops between the softmax and the P·V MatMul: casts, Identity, a NaN guard, a constant scale, the fold of heads into the batch (folded-heads.ts). */
const BETWEEN_SOFTMAX_AND_PV = [Op.Cast, Op.Identity, Op.Where, Op.IsNaN, Op.Mul, Op.Div, Op.Reshape];

/** Whether a MatMul's first operand comes from a Softmax through the ops above (a cheap pre-check). */
function reachesSoftmax(v: Value | undefined, depth = 6): boolean {
  const p = v?.producer();
  if (p === undefined || depth === 0) return false;
  if (p.is(Op.Softmax)) return true;
  if (!BETWEEN_SOFTMAX_AND_PV.some((o) => p.is(o))) return false;
  return p.inputs.some((x) => reachesSoftmax(x, depth - 1));
}

/** The MatMul that a Softmax's probabilities reach through the same ops, if any. */
function softmaxConsumer(sm: Node): Node | undefined {
  let frontier = [sm.output(0)];
  for (let i = 0; i < 6; i++) {
    const next: Value[] = [];
    for (const v of frontier) {
      for (const u of v.uses()) {
        if (u.node.is(Op.MatMul)) return u.node;
        if (BETWEEN_SOFTMAX_AND_PV.some((o) => u.node.is(o))) next.push(u.node.output(0));
      }
    }
    frontier = next;
  }
  return undefined;
}

/**
 * A block's internal values (scores, probabilities) must not feed computation outside it.
 * Uses that read no values are fine: CastLike's type operand, Shape, and Identity/Cast chains
 * that only expose the value as a graph output (the ONNX Attention function's
 * qk_matmul_output).
 */
function usedOutside(d: SiteDraft, anchor: Node): string | undefined {
  const inside = new Set<Node>([...d.internal, anchor]);
  for (const n of d.internal) {
    for (const out of n.outputs) {
      for (const u of out.uses()) {
        if (inside.has(u.node) || readsNoValues(u.node, u.index)) continue;
        return `${out.name} (inside the block) is also used by ${opKey(u.node.op)} ${u.node.name || '(unnamed)'}, outside it`;
      }
    }
  }
  return undefined;
}

/**
 * Whether reading input `index` of `n` reads no values, following Identity/Cast chains to their
 * ends on an explicit worklist (a chain may be any length).
 */
function readsNoValues(n: Node, index: number): boolean {
  const work: { node: Node; index: number }[] = [{ node: n, index }];
  const seen = new Set<Node>();
  while (work.length > 0) {
    const u = work.pop()!;
    if ((u.node.is(Op.CastLike) && u.index === 1) || u.node.is(Op.Shape)) continue;
    if (!u.node.is(Op.Identity) && !u.node.is(Op.Cast)) return false;
    if (seen.has(u.node)) continue;
    seen.add(u.node);
    const out = u.node.output(0);
    if (!out.isGraphOutput() && out.uses().length === 0) return false;
    for (const next of out.uses()) work.push({ node: next.node, index: next.index });
  }
  return true;
}

function dimAt(facts: ShapeFacts, e: Edge | undefined, axis: number): number | undefined {
  if (e === undefined) return undefined;
  const d = facts.dims(e.value);
  if (d === undefined || d.length !== e.rank) return undefined;
  const x = d[axis < 0 ? d.length + axis : axis];
  return typeof x === 'number' ? x : undefined;
}

function resolveHeads(d: SiteDraft, facts: ShapeFacts, site: string): { numHeads: number; numKvHeads: number; headDim: number } {
  const packed = (e: Edge | undefined, heads: number | undefined): number | undefined => {
    const total = dimAt(facts, e, 2);
    return total !== undefined && heads ? total / heads : undefined;
  };
  let numHeads = d.numHeads ?? (d.q?.layout !== 'BSE' ? dimAt(facts, d.q, d.q?.headAxis ?? 1) : undefined);
  for (const h of d.queryHeadHints ?? []) numHeads ??= dimAt(facts, h, h.headAxis);
  let numKvHeads =
    d.numKvHeads ??
    (d.k.layout !== 'BSE' ? dimAt(facts, d.k, d.k.headAxis) : undefined) ??
    (d.v.layout !== 'BSE' ? dimAt(facts, d.v, d.v.headAxis) : undefined) ??
    dimAt(facts, d.kPast, 1);
  const headDim =
    d.headDim ??
    (d.q?.layout === 'BSE' ? packed(d.q, numHeads) : dimAt(facts, d.q, 3)) ??
    (d.k.layout === 'BSE' ? packed(d.k, numKvHeads) : dimAt(facts, d.k, 3)) ??
    dimAt(facts, d.kPast, 3);
  // Head reshapes with runtime sizes: the projection weights state heads × head size.
  const tried = { q: '', k: '' };
  if (numHeads === undefined && d.q !== undefined && d.q.layout !== 'BSE') {
    const r = projectionHeads(d.q.value, facts);
    numHeads = r.heads;
    tried.q = r.tried;
  }
  if (numKvHeads === undefined && d.k.layout !== 'BSE') {
    const r = projectionHeads(d.k.value, facts);
    numKvHeads = r.heads;
    tried.k = r.tried;
  }
  if (numHeads === undefined && numKvHeads !== undefined && d.repeatFactor !== undefined) numHeads = numKvHeads * d.repeatFactor;
  if (numKvHeads === undefined && numHeads !== undefined && d.repeatFactor !== undefined) numKvHeads = numHeads / d.repeatFactor;
  const missing: string[] = [];
  if (numHeads === undefined) missing.push(`the number of query heads (dimension 1 of ${d.q?.value.name ?? 'Q'} is not static, and no attribute or shape constant states it${tried.q ? `; from the projection: ${tried.q}` : ''})`);
  if (numKvHeads === undefined) missing.push(`the number of key/value heads (dimension ${d.k.headAxis} of ${d.k.value.name}${tried.k ? `; from the projection: ${tried.k}` : ''})`);
  if (headDim === undefined) missing.push(`the head size (last dimension of ${d.q?.value.name ?? d.k.value.name})`);
  if (missing.length > 0) {
    throw new MatchError(`attention site ${site}: cannot determine ${missing.join('; ')}. Export the model with static head dimensions or value_info shapes.`);
  }
  // Sizes come from declared shapes too, which the graph may contradict: a head count or size
  // that no tensor could hold (2^31 elements per head row and more) is the file's error.
  const plausible = (n: number): boolean => Number.isInteger(n) && n >= 1 && n * Math.max(1, headDim!) < 2 ** 31;
  if (!plausible(numHeads!) || !plausible(numKvHeads!) || !plausible(headDim!) || numHeads! % numKvHeads! !== 0) {
    throw new MatchError(`attention site ${site}: inconsistent heads (${numHeads} query heads, ${numKvHeads} key/value heads, head size ${headDim})`);
  }
  return { numHeads: numHeads!, numKvHeads: numKvHeads!, headDim: headDim! };
}

function kindOf(d: SiteDraft, facts: ShapeFacts): 'self' | 'cross' {
  const q = d.q ? projectionSource(d.q.value, facts) : undefined;
  const k = projectionSource(d.cache ? (d.k.value.producer()?.inputs[1] ?? d.k.value) : d.k.value, facts);
  return q !== undefined && k !== undefined && q !== k ? 'cross' : 'self';
}
