/**
 * Graphs of any size: nothing in ctc walks a graph by recursion. A 200,000-node graph (a chain
 * of 140,000 elementwise nodes in front of an attention block, and three side chains of 20,000
 * nodes each: the scores' scale constant behind Identity/Cast, the head Reshape's shape behind
 * Identity, the probabilities leaving the graph through Identity) is deeper than any recursive
 * walk survives (Node's stack holds about 10,000 frames).
 *
 * inspect finds the site with its heads and its scale; compile from a statistics file does the
 * whole compile but onnxruntime (load, match, plan, check the statistics, insert Q/DQ, sort,
 * verify, write). Calibrating the same graph in onnxruntime works too but costs minutes of
 * onnxruntime's session creation on 2 cores (measured: 2 min 25 s wall, 37 s CPU), too long
 * for the test suite.
 *
 * Subgraphs nested deeper than protobuf's usual limit (100 messages, as in the reference
 * implementations) are refused by the decoder as no ONNX model (exit 1), so every walk over
 * nested subgraphs (verify, sort, names, encode) sees at most that depth.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSha256 } from '../../src/calibrate/run.js';
import { statsToJson } from '../../src/calibrate/stats.js';
import { loadModel } from '../../src/onnx/model-file.js';
import { Op } from '../../src/onnx/ops.js';
import { deepWalksModel } from '../harness/attention-blocks.js';
import { ctc } from '../harness/cli.js';
import { bytesOf } from '../harness/rewrite.js';

const CHAIN = 140_000;
const SIDE = 20_000;

describe('a 200,000-node graph with deep chains on every walk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctc-deep-'));
  const model = join(dir, 'model.onnx');
  const g = deepWalksModel(CHAIN, SIDE);
  writeFileSync(model, bytesOf(g.model));

  it('inspect finds the site, its heads and its constant scale', async () => {
    expect(g.model.graph.nodes.length).toBeGreaterThanOrEqual(200_000);
    const r = await ctc('inspect', model, '--json');
    expect(r.code, r.stderr).toBe(0);
    const sites = JSON.parse(r.stdout).sites as { numHeads: number; numKvHeads: number; headDim: number; variant: Record<string, string> }[];
    expect(sites.length).toBe(1);
    // The block has 2 heads of size 4 (deepChainModel); the head size is known only through the
    // Reshape shape behind 20,000 Identity nodes, the scale only through 20,000 Identity/Cast.
    expect([sites[0]!.numHeads, sites[0]!.numKvHeads, sites[0]!.headDim]).toEqual([2, 2, 4]);
    expect(sites[0]!.variant['scoreScale']).toBe('mul');
  }, 300_000);

  it('compile from statistics writes the quantized graph with the scales the statistics give', async () => {
    // Per-head ranges; fp8-head (symmetric, static_minmax) gives scale = max(|min|, |max|) / 448.
    const ranges = { q: [[-1.5, 3.5], [-7, 2]], k: [[-0.5, 0.25], [-2, 4.5]], v: [[-9, 1], [-1, 1.75]] } as const;
    const stats = {
      format: 'ctc-stats/1' as const,
      model: fileSha256(model),
      edges: (['q', 'k', 'v'] as const).map((role) => ({ site: 'attention.0', role, heads: 2 })),
      batches: [{ set: 'test_data_set_0', edges: (['q', 'k', 'v'] as const).map((role) => ({ min: ranges[role].map((r) => r[0]), max: ranges[role].map((r) => r[1]) })) }],
    };
    writeFileSync(join(dir, 'stats.json'), statsToJson(stats));
    const out = join(dir, 'out');
    const r = await ctc('compile', model, '--rules', 'fp8-head', '--stats', join(dir, 'stats.json'), '-o', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['compile.json', 'model.onnx', 'quantization_config.json', 'scales.json']);
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) as Record<string, { values: number[] }>;
    for (const role of ['q', 'k', 'v'] as const) {
      const want = ranges[role].map(([lo, hi]) => Math.fround(Math.max(-lo, hi) / 448));
      scales[`attention.0.${role}_scale`]!.values.forEach((s, h) => expect(s).toBeCloseTo(want[h]!, 7));
    }
    const written = loadModel(join(out, 'model.onnx'));
    expect(written.graph.nodes.length).toBeGreaterThanOrEqual(200_000);
    expect(written.graph.nodes.filter((n) => n.is(Op.QuantizeLinear)).length).toBe(3);
    expect(written.graph.nodes.filter((n) => n.is(Op.DequantizeLinear)).length).toBe(3);
  }, 300_000);

  it('subgraphs nested 3,000 deep are refused as no ONNX model (exit 1), not a stack overflow', async () => {
    // ModelProto { ir_version 8, graph: If.then_branch { If.then_branch { ... } }, opset 17 }, written by hand.
    const varint = (n: number): Buffer => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
      return Buffer.from([...out, n]);
    };
    const field = (no: number, payload: Buffer): Buffer => Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);
    const text = (t: string): Buffer => Buffer.from(t);
    let graph = field(2, text('leaf'));
    for (let d = 0; d < 3000; d++) {
      const attr = Buffer.concat([field(1, text('then_branch')), varint(20 << 3), varint(5), field(6, graph)]);
      const node = Buffer.concat([field(1, text('c')), field(2, text(`o${d}`)), field(4, text('If')), field(5, attr)]);
      graph = Buffer.concat([field(1, node), field(2, text(`g${d}`))]);
    }
    const file = join(dir, 'nested.onnx');
    writeFileSync(file, Buffer.concat([varint(1 << 3), varint(8), field(7, graph), field(8, Buffer.concat([field(1, Buffer.alloc(0)), varint(2 << 3), varint(17)]))]));
    const r = await ctc('inspect', file);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/nested\.onnx: not an ONNX model \(the protobuf does not parse: .*maximum recursion depth of 100/);
  });
});
