/**
 * The KV cache as exporters write it outside a fused op:
 *
 *   past_key_values.N.key ─┐                            (a graph input, [B, kv_heads, P, D])
 *                          Concat(axis = -2 | 2) ──▶ present.N.key (graph output) and the attention
 *   new K (post-RoPE) ─────┘
 *
 * present: the Concat output, through Identity, or the last positions of it (a sliding window:
 * sliding-window-cache.ts).
 * Variants: the past may first go through a one-input Concat (the TorchScript export of
 * transformers' DynamicCache on its first update), a Concat with an empty constant, or Identity;
 * a sliding-window layer first keeps the past's last positions (windowed: a window Slice of the
 * past or of its one-input Concat, as TorchScript writes DynamicSlidingWindowLayer).
 * In a model ctc compiled, the cache is quantized where it is joined, and the cache is found
 * behind that pair (qdq-pair.ts), so that inspect shows a compiled model's cache as it shows the
 * float model's. With a transform_config (passes/rotate-qk.ts) and key centering
 * (passes/center-k.ts) the keys are rotated and offset around the pair, and turned back for
 * present:
 *
 *   Concat ─▶ [MatMul H] ─▶ [Sub m] ─▶ Q ─▶ DQ ─▶ [Max guard] ─▶ [Add m] ─┬─▶ K of the attention
 *                                                                      └─▶ [MatMul H] ─▶ present
 *
 * (H a constant square matrix, m a constant; each step is there or not). With --cache-io
 * quantized, past is dequantized from its storage type on the way in (pastRead), and present is
 * the QuantizeLinear's codes.
 * Rejects: a Concat on any other axis (that is not a sequence append), a "past" that is not a
 * graph input (a Concat of two activations is not a cache).
 */
import type { OpId } from '../../ir/op-id.js';
import type { Value } from '../../ir/value.js';
import { Op } from '../../onnx/ops.js';
import { any, constant, node, oneOf, pass } from '../../pattern/dsl.js';
import { refuses } from '../../pattern/dsl.js';
import type { NodeCheck, ValueCheck } from '../../pattern/dsl.js';
import { matchPattern } from '../../pattern/match.js';
import type { ShapeFacts } from '../../shapes/static-shapes.js';
import { guardedValue, isGuard, pairProducing, pairsOn } from '../qdq-pair.js';
import { matchWindow, windowOf } from './sliding-window-cache.js';

const isGraphInput: ValueCheck = refuses('past-not-graph-input', (v) => (v.isGraphInput() && !v.isInitializer() ? undefined : `${v.name} is not a graph input`));

const sequenceAxis: NodeCheck = refuses('concat-not-sequence-axis', (n, facts) => {
  const axis = n.intAttr('axis', 0);
  const rank = facts.dims(n.output(0))?.length ?? 4;
  return axis === -2 || axis === rank - 2 ? undefined : `Concat ${n.name} joins axis ${axis}, not the sequence axis (-2) of a [B, heads, S, D] cache`;
});

const pastInput = pass(any('past', isGraphInput));

/** Max(d, d), the guard passes/insert-qdq.ts puts after a DequantizeLinear. */
const guard: NodeCheck = refuses('max-not-guard', (n) => (isGuard(n) ? undefined : `Max ${n.name} is not a guard Max(d, d)`));

/** The past input as the graph reads it: itself, or (ctc compile --cache-io quantized) dequantized from its storage type, through the guard. */
const pastRead = oneOf('pastRead', {
  plain: pastInput,
  dequantized: node(Op.Max, [node(Op.DequantizeLinear, [pastInput], { extraInputs: true }), any()], { check: guard }),
});
const wrapped = node(Op.Concat, [pastRead], { check: sequenceAxis });

const past = oneOf('pastForm', {
  input: pastRead,
  wrapped,
  padded: node(Op.Concat, [pastRead, constant()], { check: sequenceAxis }),
  windowed: windowOf(oneOf('windowedPast', { input: pastRead, wrapped })),
});

/** The Concat, or a same-type Cast / Identity of it (GPT-J's TorchScript export casts the cache to its own type). */
export const kvCacheConcat = pass(node(Op.Concat, [past, any('new')], { capture: 'cache', check: sequenceAxis }));

export interface CacheMatch {
  /** The Concat output: the whole cache, past and new, where K/V QDQ goes. */
  readonly value: Value;
  readonly past: Value;
  readonly present: string | null;
  /** Whether present keeps only the last positions of the cache (a sliding window). */
  readonly window: boolean;
}

/**
 * The graph output that carries the cache: the Concat output itself, or through Identity, or a
 * sliding window of it (sliding-window-cache.ts).
 */
function presentOf(v: Value, facts: ShapeFacts): { name: string; window: boolean } | null {
  if (v.isGraphOutput()) return { name: v.name, window: false };
  for (const u of v.uses()) {
    if (u.node.is(Op.Identity) && u.node.output(0).isGraphOutput()) return { name: u.node.output(0).name, window: false };
  }
  const quantized = pairsOn(afterTransform(afterTransform(v, Op.MatMul, isSquare, facts), Op.Sub, isConstant, facts))[0];
  if (quantized !== undefined) {
    const d = quantized.dequantize.output(0);
    const read = guardedValue(d);
    // quantized cache I/O: present is the codes; float I/O: the dequantized value, or the keys turned back
    const present = [quantized.quantize.output(0), d, read, afterTransform(afterTransform(read, Op.Add, isConstant, facts), Op.MatMul, isSquare, facts)].find((x) => x.isGraphOutput());
    if (present !== undefined) return { name: present.name, window: false };
  }
  for (const u of v.uses()) {
    if (!u.node.is(Op.Slice) || u.index !== 0) continue;
    const out = u.node.output(0);
    const present = out.isGraphOutput() ? out : out.uses().find((w) => w.node.is(Op.Identity) && w.node.output(0).isGraphOutput())?.node.output(0);
    if (present !== undefined && matchWindow(present, v, facts).ok) return { name: present.name, window: true };
  }
  return null;
}

const isConstant = (v: Value | undefined, facts: ShapeFacts): boolean => v !== undefined && facts.constTensor(v) !== undefined;
const isSquare = (v: Value | undefined, facts: ShapeFacts): boolean => {
  const dims = v === undefined ? undefined : facts.constTensor(v)?.dims;
  return dims !== undefined && dims.length === 2 && dims[0] === dims[1];
};

/** x when `v` is op(x, c) with c as `second` says; else `v`. */
function beforeTransform(v: Value, op: OpId, second: (c: Value | undefined, facts: ShapeFacts) => boolean, facts: ShapeFacts): Value {
  const p = v.producer();
  return p?.is(op) && p.inputs[0] !== undefined && second(p.inputs[1], facts) ? p.inputs[0] : v;
}

/** op(v, c) with c as `second` says, when `v` has such a consumer; else `v`. */
function afterTransform(v: Value, op: OpId, second: (c: Value | undefined, facts: ShapeFacts) => boolean, facts: ShapeFacts): Value {
  const u = v.uses().find((w) => w.index === 0 && w.node.is(op) && second(w.node.inputs[1], facts));
  return u?.node.output(0) ?? v;
}

export function matchCache(v: Value, facts: ShapeFacts): CacheMatch | undefined {
  const r = matchPattern(kvCacheConcat, v, facts);
  if (!r.ok) {
    // a compiled model: the cache behind the pair that quantizes it (and the steps around the pair)
    const pair = pairProducing(beforeTransform(v, Op.Add, isConstant, facts));
    return pair === undefined ? undefined : matchCache(beforeTransform(beforeTransform(pair.input, Op.Sub, isConstant, facts), Op.MatMul, isSquare, facts), facts);
  }
  const present = presentOf(v, facts);
  return { value: v, past: r.bindings.values.get('past')!, present: present?.name ?? null, window: present?.window ?? false };
}
