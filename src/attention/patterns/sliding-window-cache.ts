/**
 * The present cache of a sliding-window layer (transformers' DynamicSlidingWindowLayer, used by
 * Mistral, Gemma 2/3, Qwen2/3 and Cohere 2 sliding layers): the attention reads the whole
 * concatenated cache, and the cache that leaves the graph keeps only its last W−1 positions:
 *
 *   past ──┐
 *          Concat(axis −2) ──────────────────────────────────────────────▶ attention (P+S positions)
 *   new ───┘      └─ Slice(starts [−(W−1)], ends [≥ 2³¹−1], axes [−2 | 2], steps [1]?) ─[Identity]─▶ present
 *
 * The past that comes in is cut the same way before the Concat (the cache's first update, on
 * the past it is built from): kv-cache.ts takes that as its `windowed` past.
 *
 * K and V are quantized on the Concat output, as for the plain cache: the Slice then reads the
 * quantized values, so present holds exactly the positions the attention used, on the same grid,
 * and feeding it back as past re-quantizes nothing (Q(DQ(q)) = q with one scale).
 * Variants: the axis written as −2 or as 2; steps given as [1] or left out; present behind
 * Identity. Rejects: a Slice on another axis (window-not-sequence-axis), one that keeps the first
 * positions or stops before the end (window-not-last-positions), a step other than 1
 * (window-step-not-1): those are not the cache of a sliding window.
 */
import type { Value } from '../../ir/value.js';
import { Op } from '../../onnx/ops.js';
import { any, constant, node, oneOf, pass } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck, Pattern } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';

/** An end at or past INT32_MAX means "to the end" (exporters write INT64_MAX or INT32_MAX). */
const TO_THE_END = 2 ** 31 - 1;

const sequenceAxis: NodeCheck = refuses('window-not-sequence-axis', (n, facts) => {
  const rank = facts.dims(n.inputs[0])?.length ?? 4;
  const axes = facts.constInts(n.inputs[3]);
  const axis = axes?.length === 1 ? axes[0]! : undefined;
  return axis === -2 || axis === rank - 2 ? undefined : `Slice ${n.name} cuts axes [${axes}], not the sequence axis (-2) of a [B, heads, S, D] cache`;
});

const lastPositions: NodeCheck = refuses('window-not-last-positions', (n, facts) => {
  const starts = facts.constInts(n.inputs[1]);
  const ends = facts.constInts(n.inputs[2]);
  if (starts?.length === 1 && starts[0]! < 0 && ends?.length === 1 && ends[0]! >= TO_THE_END) return undefined;
  return `Slice ${n.name} keeps positions [${starts}, ${ends}), not the last ones ([-N, end)) as a sliding window does`;
});

const stepOne: NodeCheck = refuses('window-step-not-1', (n, facts) => {
  const steps = facts.constInts(n.inputs[4]);
  return steps?.length === 1 && steps[0] === 1 ? undefined : `Slice ${n.name} steps by [${steps}], not 1`;
});

const checks = [sequenceAxis, lastPositions, stepOne];

/** The last positions of `inner`: Slice(inner, starts [−N], ends [end], axes [−2], steps [1]?). */
export const windowOf = (inner: Pattern): Pattern =>
  oneOf('windowSteps', {
    given: node(Op.Slice, [inner, constant(), constant(), constant(), constant()], { check: checks }),
    omitted: node(Op.Slice, [inner, constant(), constant(), constant()], { check: checks.slice(0, 2) }),
  });

/** present (through Identity) as a window of the cache. */
export const slidingWindowPresent = pass(windowOf(any('cache')));

export type WindowMatch = { readonly ok: true } | { readonly ok: false; readonly id: string; readonly reason: string };

/** Whether graph output `present` is a sliding window of `cache`. */
export function matchWindow(present: Value, cache: Value, facts: ShapeFacts): WindowMatch {
  const r = matchPattern(slidingWindowPresent, present, facts);
  if (!r.ok) return r;
  if (r.bindings.values.get('cache') !== cache) return { ok: false, id: 'window-of-another-value', reason: `${present.name} is a window of ${r.bindings.values.get('cache')!.name}, not of ${cache.name}` };
  return { ok: true };
}
