/**
 * The observer graph (passes/insert-observers.ts), in-process: a graph with one quantized edge
 * of each layout (packed BSE, BHSD, BSHD, an op-internal cache's past part) is given observers,
 * run in onnxruntime on distinct per-head data, and every statistic it hands back is compared
 * with the per-head min and max computed here by plain loops over the fed arrays (the head
 * index taken from the layout's definition in src/attention/site.ts, not from the pass).
 *
 *   q [1,S,H·D] (BSE) ┐                        ┌▶ ctc.observe/statistics [min q | max q | min k | …]
 *   k [1,H,S,D] (BHSD)├─ Identity ─ observers ─┤
 *   kp [1,S,H,D](BSHD)┘                        └▶ the tensor itself (mse observer)
 */
import { describe, expect, it } from 'vitest';
import { insertObservers, observe } from '../../passes/insert-observers.js';
import type { Edge, Layout } from '../../src/attention/site.js';
import { headAxisOf } from '../../src/attention/site.js';
import { createSession, ortToFloat64, toOrtTensor } from '../../src/calibrate/ort.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import { DataType, decodeToFloat32, encodeFromFloat32 } from '../../src/ir/dtypes.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import { Op } from '../../src/onnx/ops.js';
import { encodeModel } from '../../src/onnx/serde.js';
import { concatChunks } from '../../src/onnx/wire.js';
import type { QuantizationArgs } from '../../src/quant/args.js';
import type { QuantEdge } from '../../src/quant/edges.js';

const H = 3;
const D = 4;
const S = 5;
/** The one output every min and max goes to (the Concat node's output). */
const STATS = 'ctc.observe/statistics_output_0';

const args = (observer: 'minmax' | 'mse'): QuantizationArgs => ({
  num_bits: 8,
  type: 'float',
  symmetric: true,
  group_size: null,
  strategy: 'attn_head',
  block_structure: null,
  dynamic: false,
  actorder: null,
  scale_dtype: null,
  zp_dtype: null,
  observer,
  observer_kwargs: {},
});

const DIMS: Record<Layout, number[]> = { BSE: [1, S, H * D], BHSD: [1, H, S, D], BSHD: [1, S, H, D] };

/** The head of flat element i of a [1, ...] tensor in this layout. */
function headOf(layout: Layout, i: number): number {
  switch (layout) {
    case 'BSE':
      return Math.floor((i % (H * D)) / D);
    case 'BHSD':
      return Math.floor(i / (S * D)) % H;
    case 'BSHD':
      return Math.floor(i / D) % H;
  }
}

/** Distinct per-head ranges: head h's values lie in [-(h+1)·(tensor+1), (h+1)·(tensor+1)·2], not symmetric. */
function data(layout: Layout, tensor: number): Float32Array {
  const n = S * H * D;
  return Float32Array.from({ length: n }, (_, i) => {
    const h = headOf(layout, i);
    const t = Math.sin(i * 12.9898 + tensor * 78.233) * 0.5 + 0.5; // in [0, 1]
    return Math.fround((h + 1) * (tensor + 1) * (3 * t - 1));
  });
}

function perHead(layout: Layout, x: Float32Array): { min: number[]; max: number[] } {
  const min = Array<number>(H).fill(Infinity);
  const max = Array<number>(H).fill(-Infinity);
  x.forEach((v, i) => {
    const h = headOf(layout, i);
    min[h] = Math.min(min[h]!, v);
    max[h] = Math.max(max[h]!, v);
  });
  return { min, max };
}

interface Planted {
  readonly model: Model;
  readonly edges: QuantEdge[];
  readonly feeds: { name: string; layout: Layout; values: Float32Array }[];
}

/**
 * Edge 0: q, packed BSE. Edge 1: k, BHSD, with a past part in BSHD (tensor 1). Edge 2: v, BHSD,
 * whose value is already a graph output.
 */
function planted(opset: number, type: DataType, observer: 'minmax' | 'mse'): Planted {
  const model = emptyModel({ '': opset }, opset >= 21 ? 10 : 8);
  const b = new GraphBuilder(model);
  const feeds: Planted['feeds'] = [];
  // the model's own initializer, which the pass must not count as added
  const one = b.initializer('one', Tensor.fromFloat32('one', type, [], [1]));
  const edge = (name: string, layout: Layout): Edge => {
    const x = b.input(name, type, DIMS[layout]);
    feeds.push({ name, layout, values: data(layout, feeds.length) });
    return { value: b.op(Op.Mul, [x, one], [], `${name}/Mul`), layout, headAxis: headAxisOf[layout], rank: DIMS[layout].length };
  };
  const q = edge('q', 'BSE');
  const k = edge('k', 'BHSD');
  const kp = edge('k_past', 'BSHD');
  const v = edge('v', 'BHSD');
  b.output(v.value, 'v_out');
  const quant = (role: 'q' | 'k' | 'v', tensors: Edge[]): QuantEdge => ({
    site: 'layers.0.attn',
    layer: 0,
    role,
    tensors,
    args: args(observer),
    heads: H,
    headDim: D,
    scaleName: `layers.0.attn.${role}_scale`,
    zeroPointName: `layers.0.attn.${role}_zero_point`,
  });
  return { model, edges: [quant('q', [q]), quant('k', [k, kp]), quant('v', [v])], feeds };
}

async function run(model: Model, feeds: Planted['feeds'], type: DataType): Promise<Record<string, { dims: readonly number[]; values: Float64Array }>> {
  const e = encodeModel(model);
  const session = await createSession(concatChunks(e.chunks, e.size), { optimization: 'disabled', intraOpThreads: 1 });
  try {
    const out = await session.run(Object.fromEntries(feeds.map((f) => [f.name, toOrtTensor(Tensor.fromFloat32(f.name, type, DIMS[f.layout], f.values))])));
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: t.dims, values: ortToFloat64(t) }]));
  } finally {
    await session.release();
  }
}

/** The values as the model sees them: float16 inputs are rounded to float16. */
const asFed = (x: Float32Array, type: DataType): Float32Array => (type === DataType.FLOAT16 ? decodeToFloat32(type, encodeFromFloat32(type, x), x.length) : x);

describe('insert-observers: per-head min and max of every quantized tensor, in one output', () => {
  for (const [opset, type] of [
    [17, DataType.FLOAT],
    [18, DataType.FLOAT],
    [21, DataType.FLOAT16],
  ] as const) {
    it(`opset ${opset}, ${type === DataType.FLOAT ? 'float32' : 'float16'}: each observer reads its tensor's heads at its offset`, async () => {
      const p = planted(opset, type, 'minmax');
      const r = insertObservers(p.model, p.edges);
      expect(r.modified).toBe(true);
      // q, k, k's past part, v: min then max of each, H heads apiece, in edge and tensor order
      expect(r.observers).toEqual(
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [2, 0],
        ].flatMap(([edge, tensor], i) => [
          { output: STATS, offset: 2 * i * H, edge, tensor, stat: 'min' },
          { output: STATS, offset: (2 * i + 1) * H, edge, tensor, stat: 'max' },
        ]),
      );
      // the statistics output is the one output added; the model keeps its opset
      expect(r.added.outputs.map((o) => o.name)).toEqual([STATS]);
      expect(p.model.graph.outputs.map((o) => o.name)).toEqual(['v_out', STATS]);
      expect(p.model.opsetVersion('')).toBe(opset);
      const out = await run(p.model, p.feeds, type);
      const stats = out[STATS]!;
      expect(stats.dims).toEqual([8 * H]);
      const tensorOf = [[p.feeds[0]!], [p.feeds[1]!, p.feeds[2]!], [p.feeds[3]!]];
      for (const o of r.observers) {
        const f = tensorOf[o.edge]![o.tensor]!;
        const want = perHead(f.layout, asFed(f.values, type));
        expect([...stats.values.slice(o.offset, o.offset + H)], `${f.name} ${o.stat}`).toEqual(o.stat === 'min' ? want.min : want.max);
      }
      // every head's range differs from the others' (the check above could not pass with heads swapped)
      expect(new Set(perHead('BSE', p.feeds[0]!.values).max).size).toBe(H);
    });
  }

  it('the reductions: axes as an input from opset 18, as an attribute before; keepdims 0; packed edges reshaped to [B, S, H, D]', () => {
    for (const opset of [17, 18]) {
      const p = planted(opset, DataType.FLOAT, 'minmax');
      const r = insertObservers(p.model, p.edges);
      const reduces = r.added.nodes.filter((n) => n.is(Op.ReduceMin) || n.is(Op.ReduceMax));
      expect(reduces.map((n) => n.name)).toEqual(['q', 'k', 'k_past', 'v'].flatMap((t) => [`ctc.observe/layers.0.attn/${t}/min`, `ctc.observe/layers.0.attn/${t}/max`]));
      // all axes but the head axis: 2 for q once reshaped to [B, S, H, D], 1 for BHSD k, 2 for BSHD k_past, 1 for v
      const axes = [[0, 1, 3], [0, 1, 3], [0, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 3], [0, 2, 3], [0, 2, 3]];
      reduces.forEach((n, i) => {
        expect(n.intAttr('keepdims', 1)).toBe(0);
        if (opset >= 18) {
          expect(n.inputs.length).toBe(2);
          expect(n.attr('axes')).toBeUndefined();
          expect([...n.inputs[1]!.initializer!.toFloat32()]).toEqual(axes[i]);
        } else {
          expect(n.inputs.length).toBe(1);
          expect(n.intsAttr('axes')).toEqual(axes[i]);
        }
      });
      const reshape = r.added.nodes.filter((n) => n.is(Op.Reshape));
      expect(reshape.map((n) => n.name)).toEqual(['ctc.observe/layers.0.attn/q/Reshape']);
      expect([...reshape[0]!.inputs[1]!.initializer!.toFloat32()]).toEqual([0, 0, H, D]);
      // every statistic is cast to float32 before the Concat, the Cast named after what it casts
      const casts = r.added.nodes.filter((n) => n.is(Op.Cast));
      expect(casts.map((n) => n.name)).toEqual(reduces.map((n) => `${n.outputs[0]!.name}/float`));
      expect(casts.every((n) => n.intAttr('to', 0) === DataType.FLOAT)).toBe(true);
      // what was added is the tail of each list: the model's own initializer is not in it
      const axesConsts = opset >= 18 ? reduces.map((n) => `${n.name}/axes`) : [];
      expect(r.added.initializers.map((v) => v.name)).toEqual(['ctc.observe/layers.0.attn/q/shape', ...axesConsts]);
      expect(p.model.graph.initializers.map((v) => v.name)).toEqual(['one', 'ctc.observe/layers.0.attn/q/shape', ...axesConsts]);
    }
  });

  it('mse: each tensor is also exposed whole (the packed one reshaped per head), once, and read from offset 0', async () => {
    const p = planted(21, DataType.FLOAT, 'mse');
    const r = insertObservers(p.model, p.edges);
    const values = r.observers.filter((o) => o.stat === 'values');
    expect(values.map((o) => [o.edge, o.tensor, o.offset])).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [1, 1, 0],
      [2, 0, 0],
    ]);
    // v's value was already a graph output: not added twice
    expect(p.model.graph.outputs.filter((o) => o.name === 'v_out').length).toBe(1);
    expect(r.added.outputs.length).toBe(4);
    const out = await run(p.model, p.feeds, DataType.FLOAT);
    expect(out[values[0]!.output]!.dims).toEqual([1, S, H, D]);
    expect([...out[values[0]!.output]!.values]).toEqual([...p.feeds[0]!.values]);
    expect([...out[values[2]!.output]!.values]).toEqual([...p.feeds[2]!.values]);
    expect(out[values[3]!.output]!.dims).toEqual(DIMS.BHSD);
    // the min/max statistics are there as well, after the values outputs in the list
    expect(r.observers.filter((o) => o.stat !== 'values').length).toBe(8);
  });

  it('no edges: nothing added, not modified', () => {
    const p = planted(17, DataType.FLOAT, 'minmax');
    const nodes = p.model.graph.nodes.length;
    const r = insertObservers(p.model, []);
    expect(r).toEqual({ modified: false, observers: [], added: { nodes: [], outputs: [], initializers: [] } });
    expect(p.model.graph.nodes.length).toBe(nodes);
  });

  it('observe(): the observers go on a clone, the edges carried over to it; the given model is left as it was', async () => {
    const p = planted(18, DataType.FLOAT, 'minmax');
    const nodes = p.model.graph.nodes.length;
    const outputs = p.model.graph.outputs.map((o) => o.name);
    const r = observe(p.model, p.edges);
    expect(r.model).not.toBe(p.model);
    expect(p.model.graph.nodes.length).toBe(nodes);
    expect(p.model.graph.outputs.map((o) => o.name)).toEqual(outputs);
    expect(r.model.graph.nodes.length).toBe(nodes + r.added.nodes.length);
    // the clone's reductions read the clone's values, not the original's
    const original = new Set(p.model.graph.nodes.flatMap((n) => n.outputs));
    expect(r.added.nodes.flatMap((n) => n.inputs).some((v) => v !== undefined && original.has(v))).toBe(false);
    const out = await run(r.model, p.feeds, DataType.FLOAT);
    const q = r.observers.find((o) => o.edge === 0 && o.stat === 'max')!;
    expect([...out[q.output]!.values.slice(q.offset, q.offset + H)]).toEqual(perHead('BSE', p.feeds[0]!.values).max);
  });
});
