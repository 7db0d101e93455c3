/**
 * Calibration end to end on packed [B, S, H·D] tensors and caches inside the op, checked against
 * a reference computed here, independently, from the very activations the test feeds:
 *
 *   data sets (generated: every head its own range, sign skew and dominant part)
 *      │                                      │
 *   compile() in-process                      plain TypeScript: per head, amax over all sets of
 *      │                                      new ⊕ past (packed: columns h·D … h·D+D−1)
 *   scales.json, model.onnx  ──── equal ────  amax / 448 (fp8), the mse clip (tests/harness/mse-reference.ts)
 *
 * and the per-axis scale initializers of the output model: each head's scale repeated D times,
 * in head order (h0×D, h1×D, …), on axis 2 of a packed tensor; one per head on axis 1 of the
 * [B, H, P, D] past. Fused ops: com.microsoft MultiHeadAttention and GroupQueryAttention, and the
 * ONNX Attention op (3-D, grouped-query, with past).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile.js';
import { intAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeTensorFile } from '../../src/onnx/serde.js';
import { referenceMseRange } from '../harness/mse-reference.js';
import { NODE_TESTS } from '../harness/paths.js';
import { bytesOf } from '../harness/rewrite.js';
import { quiet } from '../harness/quiet.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ctc-heads-'));

/** How a fed tensor holds its heads. */
type Layout = { kind: 'packed'; heads: number; headDim: number } | { kind: 'bhsd'; heads: number; seq: number; headDim: number };

interface Feed {
  readonly name: string;
  readonly dims: number[];
  readonly layout: Layout | undefined;
}

/** The head of element i. */
function headOf(l: Layout, i: number): number {
  return l.kind === 'packed' ? Math.floor((i % (l.heads * l.headDim)) / l.headDim) : Math.floor(i / (l.seq * l.headDim)) % l.heads;
}

/**
 * Values with, per head, their own magnitude, a sign skew, and one outlier whose sign and
 * whether it lies in the past or the new part depend on the head; the set number scales some
 * heads up, so the running max over sets matters.
 */
function generate(f: Feed, set: number, part: 'new' | 'past', role: number): Float32Array {
  const n = f.dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (f.layout === undefined) return out; // masks: zeros
  const l = f.layout;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const h = headOf(l, i);
    const r = Math.sin(i * 12.9898 + set * 78.233 + role * 3.7) * 43758.5453;
    const u = (r - Math.floor(r)) * 2 - 1;
    const magnitude = (h + 1) * (0.25 + 0.02 * role) * (set === 1 && h % 2 === 1 ? 1.5 : 1);
    let x = magnitude * (u + (h % 2 === 0 ? -0.3 : 0.3));
    // one outlier per head: in the past part for even heads, in the new part for odd ones;
    // negative for heads 0 and 1 mod 4, positive for 2 and 3
    const outlierHere = (h % 2 === 0) === (part === 'past');
    if (outlierHere && !seen.has(h)) {
      seen.add(h);
      x = magnitude * 3 * (h % 4 < 2 ? -1 : 1);
    }
    out[i] = x;
  }
  return out;
}

/** Per-head values of a fed tensor. */
function perHead(data: Float32Array, l: Layout): number[][] {
  const heads: number[][] = Array.from({ length: l.heads }, () => []);
  data.forEach((x, i) => heads[headOf(l, i)]!.push(x));
  return heads;
}

/** Write a model and its generated data sets; return the model path and what each set fed. */
function writeCase(model: Model, feeds: readonly Feed[], sets: number): { file: string; fed: Map<string, Float32Array>[] } {
  const dir = tmp();
  const file = join(dir, 'model.onnx');
  writeFileSync(file, bytesOf(model));
  const fed: Map<string, Float32Array>[] = [];
  for (let s = 0; s < sets; s++) {
    const setDir = join(dir, `test_data_set_${s}`);
    mkdirSync(setDir);
    const values = new Map<string, Float32Array>();
    feeds.forEach((f, i) => {
      const data = generate(f, s, f.name.startsWith('past') ? 'past' : 'new', i);
      values.set(f.name, data);
      writeFileSync(join(setDir, `input_${i}.pb`), encodeTensorFile(Tensor.fromFloat32(f.name, DataType.FLOAT, f.dims, data)));
    });
    fed.push(values);
  }
  return { file, fed };
}

interface Case {
  readonly what: string;
  readonly build: () => { model: Model; feeds: Feed[]; q: string; k: [string, string]; v: [string, string]; heads: number; kvHeads: number; headDim: number };
}

const S = 4;
const P = 3;
const D = 8;

/** com.microsoft MultiHeadAttention / GroupQueryAttention on packed Q, K, V with a BHSD past inside the op. */
function contrib(op: 'mha' | 'gqa', seq = S, past = P): ReturnType<Case['build']> {
  const H = 4;
  const Hkv = op === 'gqa' ? 2 : 4;
  const m = emptyModel({ '': 17, 'com.microsoft': 1 });
  const b = new GraphBuilder(m);
  const feeds: Feed[] = [
    { name: 'query', dims: [1, seq, H * D], layout: { kind: 'packed', heads: H, headDim: D } },
    { name: 'key', dims: [1, seq, Hkv * D], layout: { kind: 'packed', heads: Hkv, headDim: D } },
    { name: 'value', dims: [1, seq, Hkv * D], layout: { kind: 'packed', heads: Hkv, headDim: D } },
    { name: 'past_key', dims: [1, Hkv, past, D], layout: { kind: 'bhsd', heads: Hkv, seq: past, headDim: D } },
    { name: 'past_value', dims: [1, Hkv, past, D], layout: { kind: 'bhsd', heads: Hkv, seq: past, headDim: D } },
  ];
  const [q, k, v, pk, pv] = feeds.map((f) => b.input(f.name, DataType.FLOAT, f.dims));
  let node;
  if (op === 'mha') {
    node = b.node(Op.MsMultiHeadAttention, [q, k, v, undefined, undefined, undefined, pk, pv], [intAttr('num_heads', H)], { outputs: 3, name: 'layers.0.attn' });
  } else {
    const seqlens = b.initializer('seqlens_k', new Tensor('seqlens_k', DataType.INT32, [1], { kind: 'raw', bytes: new Uint8Array(Int32Array.of(past + seq - 1).buffer) }));
    const total = b.initializer('total_len', new Tensor('total_len', DataType.INT32, [], { kind: 'raw', bytes: new Uint8Array(Int32Array.of(past + seq).buffer) }));
    node = b.node(Op.MsGroupQueryAttention, [q, k, v, pk, pv, seqlens, total], [intAttr('num_heads', H), intAttr('kv_num_heads', Hkv)], { outputs: 3, name: 'layers.0.attn' });
  }
  b.output(node.output(0), 'y');
  b.output(node.output(1), 'present_key');
  b.output(node.output(2), 'present_value');
  return { model: m, feeds, q: 'query', k: ['key', 'past_key'], v: ['value', 'past_value'], heads: H, kvHeads: Hkv, headDim: D };
}

/** The ONNX Attention op (opset 23), 3-D Q/K/V, 9 query heads over 3 KV heads, past_key/past_value inside. */
function onnxAttention3d(): ReturnType<Case['build']> {
  const model = loadModel(join(NODE_TESTS, 'test_attention_3d_gqa_with_past_and_present', 'model.onnx'));
  const feeds: Feed[] = [
    { name: 'Q', dims: [2, 4, 72], layout: { kind: 'packed', heads: 9, headDim: 8 } },
    { name: 'K', dims: [2, 6, 24], layout: { kind: 'packed', heads: 3, headDim: 8 } },
    { name: 'V', dims: [2, 6, 24], layout: { kind: 'packed', heads: 3, headDim: 8 } },
    { name: 'attn_mask', dims: [4, 18], layout: undefined },
    { name: 'past_key', dims: [2, 3, 12, 8], layout: { kind: 'bhsd', heads: 3, seq: 12, headDim: 8 } },
    { name: 'past_value', dims: [2, 3, 12, 8], layout: { kind: 'bhsd', heads: 3, seq: 12, headDim: 8 } },
  ];
  expect(model.graph.inputs.map((x) => x.name)).toEqual(feeds.map((f) => f.name));
  return { model, feeds, q: 'Q', k: ['K', 'past_key'], v: ['V', 'past_value'], heads: 9, kvHeads: 3, headDim: 8 };
}

const CASES: Case[] = [
  { what: 'com.microsoft MultiHeadAttention', build: () => contrib('mha') },
  { what: 'com.microsoft GroupQueryAttention', build: () => contrib('gqa') },
  { what: 'ONNX Attention (3-D, grouped-query, past inside)', build: onnxAttention3d },
];

/** Per head, over every set and every named tensor: min and max of what was fed. */
function observed(fed: readonly Map<string, Float32Array>[], feeds: readonly Feed[], names: readonly string[], heads: number): { min: number[]; max: number[]; values: number[][] } {
  const min = new Array<number>(heads).fill(Infinity);
  const max = new Array<number>(heads).fill(-Infinity);
  const values: number[][] = Array.from({ length: heads }, () => []);
  for (const set of fed) {
    for (const name of names) {
      const f = feeds.find((x) => x.name === name)!;
      perHead(set.get(name)!, f.layout!).forEach((xs, h) => {
        for (const x of xs) {
          min[h] = Math.min(min[h]!, x);
          max[h] = Math.max(max[h]!, x);
        }
        values[h]!.push(...xs);
      });
    }
  }
  return { min, max, values };
}

async function compileCase(file: string, rules: string, observer?: string): Promise<{ out: string; scales: Record<string, { shape: number[]; values: number[] }> }> {
  const out = join(tmp(), 'out');
  await compile({ model: file, rules, outDir: out, ...(observer ? { observer } : {}), ...quiet });
  return { out, scales: JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) };
}

/** The scale initializer a QuantizeLinear reading `input` uses, with its axis. */
function qdqOn(model: Model, input: string): { scale: number[]; dims: readonly number[]; axis: number; dataType: number } {
  const q = [...model.graph.nodes].find((n) => n.is(Op.QuantizeLinear) && n.inputs[0]?.name === input);
  expect(q, `a QuantizeLinear on ${input}`).toBeDefined();
  const scale = q!.inputs[1]!.initializer!;
  return { scale: Array.from(scale.toFloat32()), dims: scale.dims, axis: q!.intAttr('axis', 1), dataType: scale.dataType };
}

const repeatEach = (xs: readonly number[], d: number): number[] => xs.flatMap((x) => new Array<number>(d).fill(x));

describe('per-head scales calibrated end to end on packed tensors and op-internal caches (fp8-head, 2 sets)', () => {
  for (const c of CASES) {
    it(`${c.what}: scales.json and the per-axis initializers equal amax/448 of what was fed, head by head`, async () => {
      const { model, feeds, q, k, v, heads, kvHeads, headDim } = c.build();
      const { file, fed } = writeCase(model, feeds, 2);
      const { out, scales } = await compileCase(file, 'fp8-head');
      const site = Object.keys(scales).find((n) => n.endsWith('.q_scale'))!.slice(0, -'.q_scale'.length);
      const expected = (names: readonly string[], h: number): number[] => {
        const { min, max } = observed(fed, feeds, names, h);
        return min.map((lo, i) => Math.fround(Math.max(Math.abs(lo), Math.abs(max[i]!)) / 448));
      };
      const want = { q: expected([q], heads), k: expected(k, kvHeads), v: expected(v, kvHeads) };
      // every head has its own scale (the data was made so)
      for (const role of ['q', 'k', 'v'] as const) expect(new Set(want[role]).size, role).toBe(want[role].length);
      // and the cache's amax comes from the past for some heads and from the new part for others
      const fromPast = (names: readonly string[]) => observed(fed, feeds, [names[1]!], kvHeads);
      const whole = observed(fed, feeds, k, kvHeads);
      const pastWins = fromPast(k).max.map((m, h) => Math.max(m, -fromPast(k).min[h]!) === Math.max(whole.max[h]!, -whole.min[h]!));
      expect(pastWins).toContain(true);
      expect(pastWins).toContain(false);

      expect(scales[`${site}.q_scale`]).toEqual({ shape: [heads, 1, 1], values: want.q });
      expect(scales[`${site}.k_scale`]).toEqual({ shape: [kvHeads, 1, 1], values: want.k });
      expect(scales[`${site}.v_scale`]).toEqual({ shape: [kvHeads, 1, 1], values: want.v });

      const m = loadModel(join(out, 'model.onnx'));
      // packed tensors: axis 2, each head's scale D times, in head order
      expect(qdqOn(m, q)).toEqual({ scale: repeatEach(want.q, headDim), dims: [heads * headDim], axis: 2, dataType: DataType.FLOAT });
      expect(qdqOn(m, k[0])).toEqual({ scale: repeatEach(want.k, headDim), dims: [kvHeads * headDim], axis: 2, dataType: DataType.FLOAT });
      expect(qdqOn(m, v[0])).toEqual({ scale: repeatEach(want.v, headDim), dims: [kvHeads * headDim], axis: 2, dataType: DataType.FLOAT });
      // the [B, H, P, D] past: axis 1, one scale per head (the same as the new part's)
      expect(qdqOn(m, k[1])).toEqual({ scale: want.k, dims: [kvHeads], axis: 1, dataType: DataType.FLOAT });
      expect(qdqOn(m, v[1])).toEqual({ scale: want.v, dims: [kvHeads], axis: 1, dataType: DataType.FLOAT });
    });
  }
});

describe('the mse observer on packed edges and an op-internal cache', () => {
  it('MultiHeadAttention, int4 per head, mse over 2 sets: each head the independent clip search, then the moving average', async () => {
    const { model, feeds, q, k, v, heads, kvHeads } = contrib('mha', 16, 8);
    const { file, fed } = writeCase(model, feeds, 2);
    const dir = tmp();
    const rules = join(dir, 'int4-mse.json');
    writeFileSync(rules, JSON.stringify({ config_groups: { g: { targets: ['attention'], input_activations: { num_bits: 4, type: 'int', strategy: 'attn_head', observer: 'mse' } } } }));
    const { scales } = await compileCase(file, rules);
    const site = Object.keys(scales).find((n) => n.endsWith('.q_scale'))!.slice(0, -'.q_scale'.length);
    let clipped = 0;
    const expected = (names: readonly string[], h: number): number[] => {
      // per set: the head's range and its best clip; then v = v·0.99 + new·0.01 over the sets
      const perSet = fed.map((set) => {
        const o = observed([set], feeds, names, h);
        return o.values.map((xs, i) => {
          const r = referenceMseRange(xs, Math.min(o.min[i]!, 0), Math.max(o.max[i]!, 0), { bits: 4 });
          if (r[1] < o.max[i]! * 0.995 || r[0] > o.min[i]! * 0.995) clipped++;
          return r;
        });
      });
      return perSet[0]!.map((_, i) => {
        const [lo, hi] = perSet.slice(1).reduce((a, r) => [a[0] * 0.99 + r[i]![0] * 0.01, a[1] * 0.99 + r[i]![1] * 0.01], perSet[0]![i]!);
        return Math.max(-lo, hi) / 7.5;
      });
    };
    const want = { q: expected([q], heads), k: expected(k, kvHeads), v: expected(v, kvHeads) };
    // the search did clip somewhere: an observer that fell back to min-max would differ
    expect(clipped).toBeGreaterThan(0);
    for (const role of ['q', 'k', 'v'] as const) {
      const got = scales[`${site}.${role}_scale`]!.values;
      expect(got.length).toBe(want[role].length);
      got.forEach((s, h) => expect(s / want[role][h]!, `${role} head ${h}`).toBeCloseTo(1, 5));
    }
  });
});
