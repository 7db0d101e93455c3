/**
 * Property: for random per-head scales, the output of a rewritten attention block stays within
 * the analytic bound that QDQ errors on Q, K and V imply for softmax(c·QKᵀ)·V.
 *
 * Per element, QDQ errs by at most: int, s/2 (or the clamped excess beyond q_max·s);
 * float8 e4m3, max(|x|·2⁻⁴, s·2⁻¹⁰) (half an ulp of 3 mantissa bits; subnormal step 2⁻⁹·s),
 * plus the clamped excess beyond 448·s. Then, per query row:
 *   |ΔS_j| ≤ ε_j = c·Σ_d (|q_d|·δk_jd + δq_d·|k_jd| + δq_d·δk_jd)
 *   |ΔP_j| ≤ P_j·(exp(ε_j + max ε) − 1)
 *   |ΔO_d| ≤ Σ_j |ΔP_j|·(|v_jd| + δv_jd) + Σ_j P_j·δv_jd
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/ir/dtypes.js';
import type { QuantizationArgs } from '../../src/quant/args.js';
import { quantRange } from '../../src/quant/args.js';
import type { RuleSet } from '../../src/rules/schema.js';
import { HIDDEN, SEQ, blockSpec, buildAttentionGraph } from '../harness/attention-blocks.js';
import { quantArgs } from '../harness/fixtures.js';
import { applyRules, run } from '../harness/rewrite.js';

const argsOf = (type: 'int' | 'float', bits: number): QuantizationArgs => quantArgs({ num_bits: bits, type, strategy: 'attn_head' });

function qdqBound(x: number, s: number, a: QuantizationArgs): number {
  const [, qMax] = quantRange(a);
  const excess = Math.max(0, Math.abs(x) - qMax * s);
  const rounding = a.type === 'float' ? Math.max(Math.abs(x) * 2 ** -4, s * 2 ** -10) : s / 2;
  return excess + rounding;
}

describe('QDQ error bound on attention outputs', () => {
  it('every output element of a rewritten block is within the analytic bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        blockSpec.filter((s) => s.layout !== 'BSHD'),
        fc.constantFrom<['int' | 'float', number]>(['float', 8], ['int', 8], ['int', 4]),
        fc.array(fc.double({ min: 0.2, max: 3, noNaN: true }), { minLength: 16, maxLength: 16 }),
        async (spec0, [type, bits], factors) => {
          const spec = { ...spec0, mask: 'none' as const, nanGuard: false };
          const build = () => buildAttentionGraph([spec], [], { router: false, classifier: false });
          const g = build();
          const p = g.planted[0]!;
          // Float run, exposing Q, K (the cache, before any repeat), V and the block output.
          const probe = build();
          const byName = new Map([...probe.model.graph.nodes].flatMap((n) => n.outputs).map((v) => [v.name, v]));
          for (const n of [p.q, p.k, p.v, p.pv]) if (!probe.model.graph.outputs.some((o) => o.name === n)) probe.b.output(byName.get(n)!);
          const inputs = new Map<string, Tensor>([['x', Tensor.fromFloat32('x', DataType.FLOAT, [1, SEQ, HIDDEN], Array.from({ length: SEQ * HIDDEN }, (_, i) => Math.sin(i * 0.37) * 2))]]);
          if (spec.cache) {
            const Hkv = spec.heads / spec.ratio;
            for (const kind of ['key', 'value']) {
              const n = 1 * Hkv * 2 * spec.headDim;
              inputs.set(`past.0.${kind}`, Tensor.fromFloat32(`past.0.${kind}`, DataType.FLOAT, [1, Hkv, 2, spec.headDim], Array.from({ length: n }, (_, i) => Math.cos(i * 0.91 + (kind === 'key' ? 0 : 1)))));
            }
          }
          const f = await run(probe.model, inputs);
          const Q = f[p.q]!.data as Float32Array;
          const K = f[p.k]!.data as Float32Array;
          const V = f[p.v]!.data as Float32Array;
          const O = f[p.pv]!.data as Float32Array;
          // Scales: a random fraction of each head's amax over the range (some clamp, most don't).
          const a = argsOf(type, bits);
          const [, qMax] = quantRange(a);
          const H = spec.heads;
          const Hkv = H / spec.ratio;
          const D = spec.headDim;
          const T = K.length / (Hkv * D);
          const amax = (x: Float32Array, heads: number, h: number): number => {
            const per = x.length / heads;
            let m = 0;
            for (let i = h * per; i < (h + 1) * per; i++) m = Math.max(m, Math.abs(x[i]!));
            return m || 1;
          };
          const scaleOf = { q: [] as number[], k: [] as number[], v: [] as number[] };
          for (let h = 0; h < H; h++) scaleOf.q.push(Math.fround((amax(Q, H, h) / qMax) * factors[h % 16]!));
          for (let h = 0; h < Hkv; h++) scaleOf.k.push(Math.fround((amax(K, Hkv, h) / qMax) * factors[(h + 5) % 16]!));
          for (let h = 0; h < Hkv; h++) scaleOf.v.push(Math.fround((amax(V, Hkv, h) / qMax) * factors[(h + 11) % 16]!));
          const rules: RuleSet = { name: 't', source: 't', description: '', configGroups: { g: { targets: ['attention'], input_activations: a, format: 'dense' } }, kvCacheScheme: null, ignore: [], transformConfig: null, ctcExtensions: { kCacheCentering: null }, warnings: [] };
          applyRules(g.model, rules, (e) => scaleOf[e.role]);
          g.b.output(new Map([...g.model.graph.nodes].flatMap((n) => n.outputs).map((v) => [v.name, v])).get(p.pv)!);
          const O2 = (await run(g.model, inputs))[p.pv]!.data as Float32Array;
          const c = spec.scale === 'none' ? 1 : 1 / Math.sqrt(D);
          for (let h = 0; h < H; h++) {
            const kh = Math.floor(h / spec.ratio);
            for (let i = 0; i < SEQ; i++) {
              const q = (d: number): number => Q[(h * SEQ + i) * D + d]!;
              const k = (j: number, d: number): number => K[(kh * T + j) * D + d]!;
              const v = (j: number, d: number): number => V[(kh * T + j) * D + d]!;
              const dq = (d: number): number => qdqBound(q(d), scaleOf.q[h]!, a);
              const dk = (j: number, d: number): number => qdqBound(k(j, d), scaleOf.k[kh]!, a);
              const dv = (j: number, d: number): number => qdqBound(v(j, d), scaleOf.v[kh]!, a);
              const s = Array.from({ length: T }, (_, j) => c * Array.from({ length: D }, (_, d) => q(d) * k(j, d)).reduce((x, y) => x + y, 0));
              const eps = Array.from({ length: T }, (_, j) => c * Array.from({ length: D }, (_, d) => Math.abs(q(d)) * dk(j, d) + dq(d) * Math.abs(k(j, d)) + dq(d) * dk(j, d)).reduce((x, y) => x + y, 0));
              const mx = Math.max(...s);
              const z = s.reduce((acc, x) => acc + Math.exp(x - mx), 0);
              const P = s.map((x) => Math.exp(x - mx) / z);
              const epsMax = Math.max(...eps);
              const dP = P.map((pj, j) => pj * (Math.exp(eps[j]! + epsMax) - 1));
              for (let d = 0; d < D; d++) {
                let bound = 0;
                for (let j = 0; j < T; j++) bound += dP[j]! * (Math.abs(v(j, d)) + dv(j, d)) + P[j]! * dv(j, d);
                const idx = (h * SEQ + i) * D + d;
                const err = Math.abs(O2[idx]! - O[idx]!);
                expect(err, `head ${h} row ${i} dim ${d} (${type}${bits}, ${JSON.stringify(spec)})`).toBeLessThanOrEqual(bound + 1e-5 + 1e-5 * Math.abs(O[idx]!));
              }
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
