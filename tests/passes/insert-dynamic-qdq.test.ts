/**
 * insert-dynamic-qdq against compressed-tensors' dynamic group quantization, computed in float64
 * by tests/harness/dynamic-reference.ts from the documented formulas (per group of g values of
 * the last axis: lo/hi clamped to 0, symmetric or asymmetric scale, epsilon for a zero scale,
 * round half to even):
 *
 *   x (ranges distinct per head, token and group; an all-zero, an all-positive and an
 *      all-negative group) ─ graph + pass ─ onnxruntime (disabled, all) ─▶ every element
 *   x ─ the reference ───────────────────────────────────────────────────▶ compared
 *
 * on hand-made edges of every layout: BHSD, BSHD, packed BSE [B, S, H·D], and a
 * MultiHeadAttention that concatenates its cache inside (past BHSD + new BSE: two tensors per
 * edge). The per-group scales and zero points the graph computes are also read out and compared.
 * A value whose x/s lies within float32 error of a .5 tie (the symmetric group's negative extreme
 * is one by construction: −amax/s = −(q_max − q_min)/2) may take either neighbouring code; every
 * other element must equal the reference to float32 rounding.
 */
import { describe, expect, it } from 'vitest';
import { insertDynamicQdq, whyNotGrouped } from '../../passes/insert-dynamic-qdq.js';
import type { Edge, Layout } from '../../src/attention/site.js';
import { headAxisOf } from '../../src/attention/site.js';
import { createSession, ort, ortToFloat64 } from '../../src/calibrate/ort.js';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { Model } from '../../src/ir/model.js';
import type { Node } from '../../src/ir/node.js';
import type { Value } from '../../src/ir/value.js';
import { verifyModel } from '../../src/ir/verify.js';
import { encodeModel } from '../../src/onnx/serde.js';
import { Op } from '../../src/onnx/ops.js';
import type { QuantizationArgs } from '../../src/quant/args.js';
import type { QuantEdge } from '../../src/quant/edges.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import { FLOAT32_EPS, dynamicReference, intRange, mismatches } from '../harness/dynamic-reference.js';
import type { DynamicReference, Scheme } from '../harness/dynamic-reference.js';
import { runAtLevels } from '../harness/levels.js';

// ---------------------------------------------------------------------------------------------
// Inputs: ranges distinct per batch, head, token and group, and three special groups

/** A deterministic stream of numbers in [−1, 1) (mulberry32). */
function stream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

type GroupKind = 'zero' | 'positive' | 'negative' | 'mixed';

interface Shape4 {
  readonly batch: number;
  readonly heads: number;
  readonly seq: number;
  readonly headDim: number;
}

/**
 * Values of a (batch, head, token, channel) tensor laid out as `layout`, float32-exact. Group
 * (0, 0, 0, 0) is all zero, (0, 1, 1, last) all positive, (last batch, last head, 1, 0) all
 * negative; the others straddle zero off-centre with a range that grows with head, token and group.
 */
function values(sh: Shape4, layout: Layout, g: number, seed: number): { data: Float32Array; dims: number[]; kinds: Set<GroupKind> } {
  const { batch: B, heads: H, seq: S, headDim: D } = sh;
  const groups = D / g;
  const dims = layout === 'BHSD' ? [B, H, S, D] : layout === 'BSHD' ? [B, S, H, D] : [B, S, H * D];
  const data = new Float32Array(B * H * S * D);
  const kinds = new Set<GroupKind>();
  const next = stream(seed);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let s = 0; s < S; s++) {
        for (let j = 0; j < groups; j++) {
          const kind: GroupKind =
            b === 0 && h === 0 && s === 0 && j === 0 ? 'zero' : b === 0 && h === 1 % H && s === 1 % S && j === groups - 1 ? 'positive' : b === B - 1 && h === H - 1 && s === 1 % S && j === 0 ? 'negative' : 'mixed';
          kinds.add(kind);
          const range = 0.2 * (1 + h) ** 1.7 * (1 + 0.35 * s) * (1 + 0.6 * b) * (1 + 0.25 * j);
          const centre = 0.35 * Math.sin(1.3 * h + 0.7 * s + 2.1 * j + 0.9 * b);
          for (let i = 0; i < g; i++) {
            const d = j * g + i;
            const u = next();
            const v = kind === 'zero' ? 0 : kind === 'positive' ? range * (0.1 + 0.9 * Math.abs(u)) : kind === 'negative' ? -range * (0.1 + 0.9 * Math.abs(u)) : range * (u + centre);
            const at = layout === 'BHSD' ? ((b * H + h) * S + s) * D + d : ((b * S + s) * H + h) * D + d;
            data[at] = v;
          }
        }
      }
    }
  }
  return { data, dims, kinds };
}

// ---------------------------------------------------------------------------------------------
// Graphs, edges and runs

/** compressed-tensors' QuantizationArgs for a dynamic group kv_cache_scheme, as the rule-file parser makes them. */
function dynamicArgs(s: Scheme): QuantizationArgs {
  const rules = parseRuleSet({ config_groups: {}, kv_cache_scheme: { num_bits: s.bits, type: 'int', strategy: 'group', group_size: s.groupSize, symmetric: s.symmetric, dynamic: true } }, 't', 't.json');
  return rules.kvCacheScheme!;
}

const quantEdge = (role: 'k' | 'v', tensors: Edge[], args: QuantizationArgs, heads: number, headDim: number): QuantEdge => ({
  site: 'blk',
  layer: 0,
  role,
  tensors,
  args,
  heads,
  headDim,
  scaleName: `blk.${role}_scale`,
  zeroPointName: `blk.${role}_zero_point`,
});

const edgeOf = (value: Value, layout: Layout, rank: number): Edge => ({ value, layout, headAxis: headAxisOf[layout], rank });

/** x ─ Mul(·, 1) ─▶ t (the edge; graph output "present") ─ Neg ─▶ y: a graph output and a consumer. */
function plainGraph(dims: number[]): { model: Model; t: Value } {
  const model = emptyModel({ '': 17 });
  const b = new GraphBuilder(model);
  const x = b.input('x', DataType.FLOAT, dims);
  const t = b.op(Op.Mul, [x, b.constF32('one', [], [1])], [], 'edge');
  b.output(t, 'present');
  b.output(b.op(Op.Neg, [t]), 'y');
  return { model, t };
}

/** com.microsoft MultiHeadAttention: packed q, k, v [B, S, H·D] and the past [B, H, P, D] inside the op. */
function mhaGraph(sh: Shape4, past: number): { model: Model; edges: Record<'key' | 'value' | 'past_key' | 'past_value', Value> } {
  const model = emptyModel({ '': 17, 'com.microsoft': 1 });
  const b = new GraphBuilder(model);
  const E = sh.heads * sh.headDim;
  const q = b.input('query', DataType.FLOAT, [sh.batch, sh.seq, E]);
  const k = b.input('key', DataType.FLOAT, [sh.batch, sh.seq, E]);
  const v = b.input('value', DataType.FLOAT, [sh.batch, sh.seq, E]);
  const pk = b.input('past_key', DataType.FLOAT, [sh.batch, sh.heads, past, sh.headDim]);
  const pv = b.input('past_value', DataType.FLOAT, [sh.batch, sh.heads, past, sh.headDim]);
  const n = b.node(Op.MsMultiHeadAttention, [q, k, v, undefined, undefined, undefined, pk, pv], [intAttr('num_heads', sh.heads)], { outputs: 3, name: 'attn' });
  b.output(n.output(0), 'y');
  b.output(n.output(1), 'present_key');
  b.output(n.output(2), 'present_value');
  return { model, edges: { key: k, value: v, past_key: pk, past_value: pv } };
}

const quantizeOf = (m: Model, v: Value): Node[] => m.graph.nodes.filter((n) => n.is(Op.QuantizeLinear) && n.inputs[0] === v);

/**
 * What the pass must leave: exact use-def lists, the graph's input and output names, opset 21 /
 * IR 10, one blocked pair per tensor (axis last, block_size g, a zero point only when
 * asymmetric), the tensor itself read only by its QuantizeLinear and the group Reshape, and
 * nothing inserted by a second run.
 */
function checkStructure(m: Model, edges: QuantEdge[], s: Scheme, names: { inputs: string[]; outputs: string[] }): void {
  verifyModel(m);
  expect(m.graph.inputs.map((v) => v.name)).toEqual(names.inputs);
  expect(m.graph.outputs.map((v) => v.name)).toEqual(names.outputs);
  expect(m.opsetVersion('')).toBeGreaterThanOrEqual(21);
  expect(m.irVersion).toBeGreaterThanOrEqual(10);
  for (const e of edges) {
    for (const t of e.tensors) {
      const qs = quantizeOf(m, t.value);
      expect(qs.length, t.value.name).toBe(1);
      const q = qs[0]!;
      expect([q.intAttr('axis'), q.intAttr('block_size')]).toEqual([t.rank - 1, s.groupSize]);
      expect(q.inputs.length).toBe(s.symmetric ? 2 : 3);
      if (s.symmetric) expect(q.intAttr('output_dtype')).toBe(s.bits === 4 ? DataType.INT4 : DataType.INT8);
      const dqs = q.output(0).uses().map((u) => u.node);
      expect(dqs.length).toBe(1);
      expect(dqs[0]!.is(Op.DequantizeLinear)).toBe(true);
      expect([dqs[0]!.intAttr('axis'), dqs[0]!.intAttr('block_size'), dqs[0]!.inputs.slice(1)]).toEqual([t.rank - 1, s.groupSize, q.inputs.slice(1)]);
      // x itself feeds only its pair and the group reshape; everything else reads the dequantized value
      const readers = t.value.uses().map((u) => u.node.op.opType).sort();
      expect(readers).toEqual(['QuantizeLinear', 'Reshape']);
    }
  }
  const nodes = m.graph.nodes.length;
  expect(insertDynamicQdq(m, edges)).toEqual({ modified: false, inserted: 0 });
  expect(m.graph.nodes.length).toBe(nodes);
  verifyModel(m);
}

/**
 * The per-group scale and zero point of one tensor's QuantizeLinear, as graph outputs (the zero
 * point cast to float: onnxruntime-node returns no int4 tensors).
 */
function exposeQParams(m: Model, v: Value, tag: string): void {
  const q = quantizeOf(m, v)[0]!;
  const b = new GraphBuilder(m);
  b.output(b.op(Op.Identity, [q.inputs[1]!]), `${tag}.scale`);
  if (q.inputs[2] !== undefined) b.output(b.op(Op.Cast, [q.inputs[2]], [intAttr('to', DataType.FLOAT)]), `${tag}.zero_point`);
}

const bytesOf = (m: Model): Uint8Array => Buffer.concat(encodeModel(m).chunks);

async function runOnce(m: Model, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float64Array>> {
  const s = await createSession(bytesOf(m), { optimization: 'disabled', intraOpThreads: 1 });
  try {
    const r = await s.run(feeds);
    return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, ortToFloat64(t)]));
  } finally {
    await s.release();
  }
}

function checkQParams(got: Record<string, Float64Array>, tag: string, want: DynamicReference, s: Scheme): void {
  const scale = got[`${tag}.scale`]!;
  // one scale per group (blocked QDQ: x's shape with the last axis divided by g), never one for all
  expect(scale.length).toBe(want.scale.length);
  want.scale.forEach((w, j) => {
    if (w === FLOAT32_EPS) expect(scale[j], `${tag} group ${j}: epsilon`).toBe(FLOAT32_EPS);
    else expect(Math.abs(scale[j]! - w) / w, `${tag} group ${j}: scale ${scale[j]} vs ${w}`).toBeLessThan(1e-6);
  });
  if (s.symmetric) expect(got[`${tag}.zero_point`]).toBeUndefined();
  else expect(Array.from(got[`${tag}.zero_point`]!)).toEqual(Array.from(want.zeroPoint));
}

/**
 * The groups the inputs must contain (an epsilon scale, zero points at both ends of the range),
 * and where the ties are: only on a symmetric group's negative extreme when it is the group's
 * largest magnitude (−amax/s = −(q_max − q_min)/2 exactly), so that every other element is held
 * to one code.
 */
function checkCoverage(x: ArrayLike<number>, want: DynamicReference, s: Scheme): void {
  const [qMin, qMax] = intRange(s.bits);
  // the inputs keep every zero point off a tie, so that all groups are compared
  expect(want.zeroPointTies).toEqual([]);
  expect(want.scale.includes(FLOAT32_EPS), 'an all-zero group').toBe(true);
  // ranges distinct per group: no two groups share a scale, except the all-zero one
  expect(new Set(want.scale).size).toBe(want.scale.length);
  if (!s.symmetric) {
    // all-negative: q_min − lo/s = q_max (where float32 may land just above it: the clamp holds it);
    // all-positive: lo clamped to 0, zp = q_min
    expect(want.zeroPoint.includes(qMax)).toBe(true);
    expect(want.zeroPoint.includes(qMin)).toBe(true);
    expect(new Set(want.zeroPoint).size).toBeGreaterThan(4);
  }
  const g = s.groupSize;
  want.other.forEach((o, i) => {
    if (!Number.isFinite(o)) return;
    const group = Array.from({ length: g }, (_, k) => x[Math.floor(i / g) * g + k]!);
    expect(s.symmetric && x[i] === Math.min(...group) && -x[i]! >= Math.max(...group), `element ${i} (${x[i]}) is on a tie`).toBe(true);
  });
}

const SCHEMES: readonly (Scheme & { name: string })[] = [
  { name: 'int4 asymmetric, group 4 of head_dim 8', bits: 4, symmetric: false, groupSize: 4 },
  { name: 'int4 symmetric, group = head_dim 8', bits: 4, symmetric: true, groupSize: 8 },
  { name: 'int8 asymmetric, group = head_dim 8', bits: 8, symmetric: false, groupSize: 8 },
  { name: 'int8 symmetric, group 2 of head_dim 8', bits: 8, symmetric: true, groupSize: 2 },
];

const SHAPE: Shape4 = { batch: 2, heads: 3, seq: 4, headDim: 8 };

describe('insertDynamicQdq on one tensor, each layout: every element equals the float64 reference at levels disabled and all', () => {
  for (const layout of ['BHSD', 'BSHD', 'BSE'] as const) {
    for (const s of SCHEMES) {
      it(`${layout}, ${s.name}`, async () => {
        const x = values(SHAPE, layout, s.groupSize, 11);
        expect([...x.kinds].sort()).toEqual(['mixed', 'negative', 'positive', 'zero']);
        const { model, t } = plainGraph(x.dims);
        const names = { inputs: ['x'], outputs: ['present', 'y'] };
        const edges = [quantEdge('k', [edgeOf(t, layout, x.dims.length)], dynamicArgs(s), SHAPE.heads, SHAPE.headDim)];
        expect(insertDynamicQdq(model, edges)).toEqual({ modified: true, inserted: 1 });
        checkStructure(model, edges, s, names);

        const want = dynamicReference(x.data, s);
        checkCoverage(x.data, want, s);
        const feeds = { x: new ort.Tensor('float32', x.data, x.dims) };
        const runs = await runAtLevels(bytesOf(model), feeds, ['disabled', 'all']);
        for (const [level, out] of runs) {
          expect(mismatches(out['present']!, want, s.groupSize), `${level} present`).toEqual([]);
          expect(mismatches(out['y']!.map((v) => -v), want, s.groupSize), `${level} y`).toEqual([]);
        }
        exposeQParams(model, t, 'x');
        checkQParams(await runOnce(model, feeds), 'x', want, s);
      });
    }
  }
});

describe('insertDynamicQdq on an op that concatenates the cache inside (MultiHeadAttention: past BHSD + new packed BSE per edge)', () => {
  const PAST = 3;
  for (const s of SCHEMES) {
    it(s.name, async () => {
      const { model, edges: v } = mhaGraph(SHAPE, PAST);
      const names = { inputs: ['query', 'key', 'value', 'past_key', 'past_value'], outputs: ['y', 'present_key', 'present_value'] };
      const args = dynamicArgs(s);
      const edges = [
        quantEdge('k', [edgeOf(v.key, 'BSE', 3), edgeOf(v.past_key, 'BHSD', 4)], args, SHAPE.heads, SHAPE.headDim),
        quantEdge('v', [edgeOf(v.value, 'BSE', 3), edgeOf(v.past_value, 'BHSD', 4)], args, SHAPE.heads, SHAPE.headDim),
      ];
      expect(insertDynamicQdq(model, edges)).toEqual({ modified: true, inserted: 4 });
      checkStructure(model, edges, s, names);

      const pastShape = { ...SHAPE, seq: PAST };
      const inputs = {
        query: values(SHAPE, 'BSE', s.groupSize, 1),
        key: values(SHAPE, 'BSE', s.groupSize, 2),
        value: values(SHAPE, 'BSE', s.groupSize, 3),
        past_key: values(pastShape, 'BHSD', s.groupSize, 4),
        past_value: values(pastShape, 'BHSD', s.groupSize, 5),
      };
      const feeds = Object.fromEntries(Object.entries(inputs).map(([n, x]) => [n, new ort.Tensor('float32', x.data, x.dims)]));
      const runs = await runAtLevels(bytesOf(model), feeds, ['disabled', 'all']);
      for (const kind of ['key', 'value'] as const) {
        const past = dynamicReference(inputs[`past_${kind}`].data, s);
        const now = dynamicReference(inputs[kind].data, s);
        checkCoverage(inputs[`past_${kind}`].data, past, s);
        checkCoverage(inputs[kind].data, now, s);
        // present [B, H, P + S, D] = the dequantized past, then the new tokens turned from [B, S, H·D] to [B, H, S, D]
        const { batch: B, heads: H, seq: S, headDim: D } = SHAPE;
        const T = PAST + S;
        const pick = (key: 'out' | 'other'): Float64Array => {
          const o = new Float64Array(B * H * T * D);
          for (let b = 0; b < B; b++)
            for (let h = 0; h < H; h++)
              for (let t = 0; t < T; t++)
                for (let d = 0; d < D; d++) {
                  o[((b * H + h) * T + t) * D + d] = t < PAST ? past[key][((b * H + h) * PAST + t) * D + d]! : now[key][((b * S + (t - PAST)) * H + h) * D + d]!;
                }
          return o;
        };
        const want = { out: pick('out'), other: pick('other'), scale: new Float64Array(), zeroPoint: new Float64Array(), zeroPointTies: [] };
        for (const [level, out] of runs) expect(mismatches(out[`present_${kind}`]!, want, s.groupSize), `${level} present_${kind}`).toEqual([]);
        exposeQParams(model, v[kind], kind);
        exposeQParams(model, v[`past_${kind}`], `past_${kind}`);
        const got = await runOnce(model, feeds);
        checkQParams(got, kind, now, s);
        checkQParams(got, `past_${kind}`, past, s);
      }
    });
  }
});

/**
 * compressed-tensors quantizes K and V once, when they are written to the cache, and keeps the
 * stored values (§3.3: "the cache stores QDQ'd K/V"); the graph quantizes the whole present
 * (past and new) at every step, and a runtime feeds the dequantized present back as the next
 * past. The two agree only where the quantization is a fixed point of itself: fed its own output,
 * it must give it back, step after step.
 */
const FEEDBACK_STEPS = 8;
function feedbackCheck(s: Scheme & { name: string }): void {
  it(s.name, async () => {
    const x = values(SHAPE, 'BHSD', s.groupSize, 23);
    const { model, t } = plainGraph(x.dims);
    insertDynamicQdq(model, [quantEdge('k', [edgeOf(t, 'BHSD', 4)], dynamicArgs(s), SHAPE.heads, SHAPE.headDim)]);
    const session = await createSession(bytesOf(model), { optimization: 'disabled', intraOpThreads: 1 });
    try {
      let past = x.data;
      let first: Float32Array | undefined;
      for (let step = 0; step < FEEDBACK_STEPS; step++) {
        const present = (await session.run({ x: new ort.Tensor('float32', past, x.dims) }))['present']!.data as Float32Array;
        first ??= present;
        const drift = present.reduce((m, v, i) => Math.max(m, Math.abs(v - first![i]!) / Math.max(Math.abs(first![i]!), 1e-30)), 0);
        expect(drift, `step ${step}: largest relative change of the cache`).toBeLessThan(1e-5);
        past = present;
      }
    } finally {
      await session.release();
    }
  });
}

describe('the cache fed back as the next past is not moved by quantizing it again', () => {
  for (const s of SCHEMES.filter((x) => !x.symmetric)) feedbackCheck(s);
});

describe('insertDynamicQdq refuses what it cannot build', () => {
  it('a group size that does not divide head_dim, naming both and the fix; a static edge', () => {
    const { model, t } = plainGraph([1, 2, 3, 8]);
    const bad = quantEdge('k', [edgeOf(t, 'BHSD', 4)], { ...dynamicArgs({ bits: 4, symmetric: false, groupSize: 4 }), group_size: 3 }, 2, 8);
    expect(whyNotGrouped(bad)).toBe('group_size 3 does not divide head_dim 8 of blk, so a group would mix two heads or leave a remainder; use a group_size that divides 8');
    expect(() => insertDynamicQdq(model, [bad])).toThrow(/insert-dynamic-qdq: group_size 3 does not divide head_dim 8 of blk/);
    const fixed = quantEdge('k', [edgeOf(t, 'BHSD', 4)], dynamicArgs({ bits: 4, symmetric: false, groupSize: 8 }), 2, 8);
    expect(whyNotGrouped(fixed)).toBeUndefined();
    const stat = quantEdge('k', [edgeOf(t, 'BHSD', 4)], { ...fixed.args, dynamic: false }, 2, 8);
    expect(() => insertDynamicQdq(model, [stat])).toThrow(/blk\.k_scale is not dynamic/);
    // nothing was changed by the refusals
    expect(model.graph.nodes.map((n) => n.op.opType)).toEqual(['Mul', 'Neg']);
  });
});
