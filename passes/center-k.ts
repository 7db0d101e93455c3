/**
 * Key centering (ctc_extensions.k_cache_centering; the offset and why it is exact:
 * src/transform/kv-offset.ts): the calibrated offset m of each key head is subtracted from the
 * keys right before they are quantized, after rotate-qk's rotation if any, so the scales are
 * calibrated on centered keys. Attention is unchanged (softmax ignores a constant per query).
 *
 *   K, cache concatenated in the graph, --cache-io float (the interface stays plain keys):
 *     past ─┐
 *     k ────┴ Concat ─▶ K(·H) ─ Sub(m) ─▶ Kc ─▶ (QDQ) ─▶ attention
 *                                         └─ Add(m) ─▶ (·H) ─▶ present (graph output)
 *   K, cache concatenated in the graph, --cache-io quantized (the centered cache is the interface):
 *     past (holds K(·H) − m) ─────────────┐
 *     k ─ (·H) ─ Sub(m) ──────────────────┴ Concat ─▶ (QDQ) ─▶ attention, present
 *
 *   K, cache inside the op (ONNX Attention with past, MultiHeadAttention, GroupQueryAttention):
 *     float:     past(·H) ─ Sub(m) ─▶ op;  k(·H) ─ Sub(m) ─▶ op;  op present ─ Add(m) ─▶ (·H) ─▶ present
 *     quantized: past (holds K(·H) − m) ─▶ op;  k(·H) ─ Sub(m) ─▶ op;  op present ─▶ present
 *
 * Readers of the keys that do not lead to the attention (a sliding window's Slice into present)
 * read Kc + m, i.e. the quantized keys with the offset added back. m is stored once per site and
 * shape as an initializer `<site>.k_offset` ([kv_heads, 1, head_dim] on a [B, H, S, D] edge,
 * [kv_heads, head_dim] on [B, S, H, D], [kv_heads·head_dim] packed), in the keys' float type.
 */
import type { Edge, Site } from '../src/attention/site.js';
import { CtcError } from '../src/errors.js';
import type { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import type { OpId } from '../src/ir/op-id.js';
import { Tensor } from '../src/ir/tensor.js';
import { sortGraph } from '../src/ir/topo.js';
import { shapeOf } from '../src/ir/types.js';
import { Value } from '../src/ir/value.js';
import { encodeFromFloat32 } from '../src/ir/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import { writeKvOffset } from '../src/transform/kv-offset.js';
import type { CacheIoMode } from './cache-io.js';
import { activationFloatType } from './insert-qdq.js';
import { describeProducts, productsOf, reaches } from '../src/attention/qk-products.js';
import { readsPast } from './rotate-qk.js';

export interface CenterResult {
  readonly modified: boolean;
  /** Each key value that was to be quantized → its centered value, quantized instead. */
  readonly centered: ReadonlyMap<Value, Value>;
  /** Per site, the offset initializers it reads (one per shape). */
  readonly offsets: ReadonlyMap<Site, readonly string[]>;
  /** Cache tensors of the interface that hold centered keys (quantized cache I/O only). */
  readonly centeredCache: readonly string[];
}

/**
 * Why subtracting a key offset would change what a site computes, or undefined when it does not:
 * the scores must reach the softmax shifted by the same q·m for every key and be seen nowhere
 * else. A softcap's tanh sees the shift; so does a fused op's exposed QK output (the ONNX
 * Attention op's qk_matmul_output other than after the softmax, mode 3).
 */
export function whyNotCentered(site: Site, isGraphOutput: (v: Value) => boolean): string | undefined {
  const a = site.anchor;
  if (site.variant['softcap'] === 'tanh' || (a.floatAttr('softcap') ?? 0) !== 0) return 'its attention scores are soft-capped (tanh), which a key offset would change';
  const qk = a.is(Op.MatMul) ? undefined : a.outputs[3];
  if (qk !== undefined && (qk.uses().length > 0 || isGraphOutput(qk)) && a.intAttr('qk_matmul_output_mode', 0) !== 3) {
    return `its op exposes the attention scores before the softmax (${qk.name}), which a key offset would change`;
  }
  const products = productsOf(site.k.value, a);
  if (products.length > 1) {
    return `its keys feed ${describeProducts(products)}, not only Q·Kᵀ (e.g. DeBERTa's position-to-content term), where a key offset would not cancel`;
  }
  return undefined;
}

/** The shape m broadcasts with on an edge: the head axis and everything after it (head_dim last). */
function offsetShape(layout: Edge['layout'], rank: number, headAxis: number, heads: number, headDim: number): number[] {
  if (layout === 'BSE') return [heads * headDim];
  return [heads, ...new Array<number>(Math.max(0, rank - headAxis - 2)).fill(1), headDim];
}

/**
 * `offsets`: per site, m [kv_heads · head_dim] in the space of the keys as they are now quantized
 * (rotated when rotate-qk ran: src/transform/kv-offset.ts's offsetOf). `rotated`: rotate-qk's map
 * from each key value to its rotated value (empty without a rotation).
 */
export function centerK(model: Model, offsets: ReadonlyMap<Site, Float64Array>, rotated: ReadonlyMap<Value, Value>, cacheIo: CacheIoMode): CenterResult {
  const g = model.graph;
  const centered = new Map<Value, Value>();
  const inits = new Map<Site, string[]>();
  const cacheRecord: Record<string, string> = {};
  if (offsets.size === 0) return { modified: false, centered, offsets: inits, centeredCache: [] };

  for (const [site, mean] of offsets) {
    const base = `${site.name}/k_cache_offset`;
    const made = new Map<string, Value>();
    /** The offset initializer for a value laid out as `layout` (rank, head axis), in its float type. */
    const offset = (x: Value, layout: Edge['layout'], rank: number, headAxis: number): Value => {
      const type = activationFloatType(x);
      const dims = offsetShape(layout, rank, headAxis, site.numKvHeads, site.headDim);
      const key = `${dims.join('x')}/${type}`;
      let m = made.get(key);
      if (m === undefined) {
        const name = model.names.fresh(`${site.name}.k_offset`);
        m = new Value(name);
        g.addInitializer(m, new Tensor(name, type, dims, { kind: 'raw', bytes: encodeFromFloat32(type, Float32Array.from(mean)) }));
        made.set(key, m);
        inits.set(site, [...(inits.get(site) ?? []), name]);
      }
      return m;
    };
    const node = (op: OpId, a: Value, m: Value, what: string): { node: Node; out: Value } => {
      const out = new Value(model.names.fresh(`${base}/${what}_output`));
      return { node: new Node(op, [a, m], [out], [], model.names.fresh(`${base}/${what}`)), out };
    };

    /** `back` becomes graph output `at` under x's name (the interface keeps its names); x is renamed `<name>.<suffix>`. */
    const takeOutput = (x: Value, back: Value, at: number, suffix: string): void => {
      const name = x.name;
      x.name = model.names.fresh(`${name}.${suffix}`);
      back.name = name;
      back.type = x.type;
      g.setOutput(at, back);
    };
    /**
     * x − m for every reader on the way to the attention; other readers, and a graph output x,
     * read (x − m) + m, so that they see the quantized keys once QDQ is on x − m.
     */
    const centerUses = (x: Value, m: Value): Value => {
      const sub = node(Op.Sub, x, m, 'Sub');
      const away = x.uses().filter((u) => u.node !== sub.node && !reaches(u.node, site.anchor));
      const at = g.outputs.indexOf(x);
      x.replaceAllUsesWith(sub.out, { except: new Set([sub.node, ...away.map((u) => u.node)]) });
      g.insertAfter(x.producer(), [sub.node]);
      if (away.length > 0 || at >= 0) {
        const back = node(Op.Add, sub.out, m, 'Add');
        g.insertAfter(sub.node, [back.node]);
        for (const u of away) u.node.replaceInput(u.index, back.out);
        if (at >= 0) takeOutput(x, back.out, at, 'before_centering');
      }
      return sub.out;
    };
    /** A value that holds centered keys: every reader, and a graph output, read it + m instead. */
    const addBack = (x: Value, m: Value): void => {
      const back = node(Op.Add, x, m, 'Add');
      const at = g.outputs.indexOf(x);
      x.replaceAllUsesWith(back.out, { except: new Set([back.node]) });
      g.insertAfter(x.producer(), [back.node]);
      if (at >= 0) takeOutput(x, back.out, at, 'centered');
    };
    const edgeOffset = (x: Value, e: Edge): Value => offset(x, e.layout, shapeOf(x.type)?.length ?? e.rank, e.headAxis);

    const k = site.k.value;
    const kx = rotated.get(k) ?? k;
    if (site.kPast !== undefined) {
      // The op concatenates past and new keys itself: both come in centered.
      centered.set(kx, centerUses(kx, edgeOffset(kx, site.k)));
      const past = site.kPast.value;
      // present is [batch, kv_heads, total, head_dim] whatever the op's input layout
      const present = site.cache?.presentKey != null ? site.anchor.outputs[1] : undefined;
      if (cacheIo === 'float') {
        const px = rotated.get(past) ?? past;
        centered.set(px, centerUses(px, edgeOffset(px, site.kPast)));
        if (present !== undefined && (present.uses().length > 0 || g.outputs.includes(present))) addBack(present, offset(present, 'BHSD', 4, 1));
      } else {
        const m = edgeOffset(past, site.kPast);
        cacheRecord[past.name] = m.name;
        if (present !== undefined) cacheRecord[site.cache!.presentKey!] = m.name;
      }
      continue;
    }
    const concat = k.producer();
    const pastName = site.cache?.pastKey;
    if (cacheIo === 'quantized' && site.cache !== null) {
      const pastAt = concat?.is(Op.Concat) ? concat.inputs.findIndex((v) => v !== undefined && pastName !== undefined && readsPast(v, pastName)) : -1;
      if (concat === undefined || pastAt < 0) {
        throw new CtcError(
          `--cache-io quantized with ctc_extensions.k_cache_centering: the keys of site ${site.name} (${k.name}) are not a Concat of the past input ${pastName}, so ctc cannot keep the centered cache as the interface; use --cache-io float`,
        );
      }
      // Center what is appended; the past input already holds centered keys.
      const m = edgeOffset(k, site.k);
      concat.inputs.forEach((v, i) => {
        if (i === pastAt || v === undefined) return;
        const sub = node(Op.Sub, v, m, 'Sub');
        g.insertAfter(v.producer(), [sub.node]);
        concat.replaceInput(i, sub.out);
      });
      cacheRecord[pastName!] = m.name;
      if (g.outputs.includes(k)) cacheRecord[k.name] = m.name;
      continue;
    }
    centered.set(kx, centerUses(kx, edgeOffset(kx, site.k)));
  }
  const centeredCache = Object.keys(cacheRecord);
  if (centeredCache.length > 0) {
    const holds = rotated.size > 0 ? 'K·H − m: the (rotated) keys minus the offset m' : 'K − m: the keys minus the offset m';
    writeKvOffset(model, { holds, tensors: cacheRecord });
  }
  sortGraph(g);
  return { modified: true, centered, offsets: inits, centeredCache };
}
