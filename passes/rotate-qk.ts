/**
 * The rotation of Q and K that compressed-tensors' transform_config places at `q_attn` and
 * `k_cache` (SpinQuant R3): the orthonormal Hadamard matrix H over head_dim, applied after the
 * rotary embedding and before quantization. (QH)(KH)ᵀ = QKᵀ, so the float model computes the
 * same attention, while the rotated K spreads each head's outliers over its head_dim before the
 * cache is quantized. Runs before calibration, so the scales are observed on rotated values.
 *
 *   Q:  q ─ MatMul(H) ─▶ q·H ─▶ (QDQ) ─▶ attention
 *
 *   K, cache concatenated in the graph, --cache-io float (the interface stays un-rotated):
 *     past ─┐
 *     k ────┴ Concat ─▶ K ─ MatMul(H) ─▶ K·H ─▶ (QDQ) ─▶ attention
 *                                           └─ MatMul(Hᵀ) ─▶ present (graph output)
 *   K, cache concatenated in the graph, --cache-io quantized (the rotated cache is the interface):
 *     past (holds K·H) ─────────┐
 *     k ─ MatMul(H) ─▶ k·H ─────┴ Concat ─▶ K·H ─▶ (QDQ) ─▶ attention, present
 *
 *   K, cache inside the op (ONNX Attention with past, MultiHeadAttention, GroupQueryAttention):
 *     float:     past ─ MatMul(H) ─▶ op;  k ─ MatMul(H) ─▶ op;  op present ─ MatMul(Hᵀ) ─▶ present
 *     quantized: past (holds K·H) ─▶ op;  k ─ MatMul(H) ─▶ op;  op present (K·H) ─▶ present
 *
 * H is symmetric (hadamard.ts), so Hᵀ = H = H⁻¹ and `inverse` changes nothing. On a packed
 * [B, S, H·D] edge the matrix is block-diagonal, one block per head (or per `head_dim` of the
 * scheme when it is smaller). `precision` torch.float64 rotates in double (Cast in and out).
 * In quantized mode the rotation is recorded in the model's metadata (src/transform/kv-rotation.ts), so that
 * `ctc inspect --json` can say which cache tensors hold rotated keys.
 */
import type { Edge, Site } from '../src/attention/site.js';
import { CtcError } from '../src/errors.js';
import { intAttr } from '../src/ir/attribute.js';
import type { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { Tensor } from '../src/ir/tensor.js';
import { sortGraph } from '../src/ir/topo.js';
import { shapeOf } from '../src/ir/types.js';
import { Value } from '../src/ir/value.js';
import { DataType, encodeFromFloat32 } from '../src/ir/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import type { SiteRotation } from '../src/rules/targets.js';
import { hadamardMatrix } from '../src/transform/hadamard.js';
import { writeKvRotation } from '../src/transform/kv-rotation.js';
import type { CacheIoMode } from './cache-io.js';
import { activationFloatType } from './insert-qdq.js';
import { describeProducts, productsOf, reaches } from '../src/attention/qk-products.js';

export interface RotateResult {
  readonly modified: boolean;
  /** Each rotated Q/K edge's value → the rotated value that is now quantized instead. */
  readonly rotated: ReadonlyMap<Value, Value>;
  /** Cache tensors of the interface that hold rotated keys (quantized cache I/O only). */
  readonly rotatedCache: readonly string[];
}

/** `v` is the past input itself, or it through copies (Identity, a one-input Concat, as TorchScript exports write). */
export function readsPast(v: Value, pastName: string): boolean {
  for (let x: Value | undefined = v; x !== undefined; ) {
    if (x.name === pastName && x.isGraphInput()) return true;
    const p = x.producer();
    x = p !== undefined && (p.is(Op.Identity) || (p.is(Op.Concat) && p.inputs.length === 1)) ? p.inputs[0] : undefined;
  }
  return false;
}

/**
 * Why rotating this site's Q and K would change what it computes, or undefined when it would
 * not: (Q·H)(K·H)ᵀ = Q·Kᵀ holds only where Q·Kᵀ is the one product either of them feeds
 * (src/attention/qk-products.ts). Such a site is left un-rotated and named in the config's ignore.
 */
export function whyNotRotated(site: Site): string | undefined {
  for (const [role, edge] of [['queries', site.q], ['keys', site.k]] as const) {
    if (edge === undefined) continue;
    const products = productsOf(edge.value, site.anchor);
    if (products.length > 1) return `its ${role} feed ${describeProducts(products)}, not only Q·Kᵀ (e.g. DeBERTa's position terms), which a rotation of Q and K would change`;
  }
  return undefined;
}


export function rotateQk(model: Model, rotations: ReadonlyMap<Site, SiteRotation>, cacheIo: CacheIoMode): RotateResult {
  const g = model.graph;
  const rotated = new Map<Value, Value>();
  const rotatedCache: string[] = [];
  const matrices = new Map<string, Value>();
  if (rotations.size === 0) return { modified: false, rotated, rotatedCache };

  /** The rotation matrix of a width, block and type, one initializer each. */
  const matrix = (size: number, block: number, type: DataType): Value => {
    const key = `${size}/${block}/${type}`;
    let m = matrices.get(key);
    if (m === undefined) {
      const name = model.names.fresh(`hadamard_${block}${size === block ? '' : `_x${size / block}`}${type === DataType.DOUBLE ? '_f64' : ''}`);
      const values = hadamardMatrix(size, block);
      const bytes = type === DataType.DOUBLE ? new Uint8Array(values.buffer.slice(0)) : encodeFromFloat32(type, values);
      m = new Value(name);
      g.addInitializer(m, new Tensor(name, type, [size, size], { kind: 'raw', bytes }));
      matrices.set(key, m);
    }
    return m;
  };

  /** New nodes computing x·H (H is its own inverse, so the inverse rotation is the same product). */
  const rotation = (x: Value, size: number, r: SiteRotation, base: string): { nodes: Node[]; out: Value } => {
    const floatType = activationFloatType(x);
    const compute = r.args.precision === 'torch.float64' ? DataType.DOUBLE : DataType.FLOAT;
    const nodes: Node[] = [];
    let input = x;
    if (compute !== floatType) {
      const cast = new Value(model.names.fresh(`${base}/Cast_in_output`));
      nodes.push(new Node(Op.Cast, [x], [cast], [intAttr('to', compute)], model.names.fresh(`${base}/Cast_in`)));
      input = cast;
    }
    let out = new Value(model.names.fresh(`${base}/MatMul_output`));
    nodes.push(new Node(Op.MatMul, [input, matrix(size, r.args.head_dim, compute)], [out], [], model.names.fresh(`${base}/MatMul`)));
    if (compute !== floatType) {
      const back = new Value(model.names.fresh(`${base}/Cast_out_output`));
      nodes.push(new Node(Op.Cast, [out], [back], [intAttr('to', floatType)], model.names.fresh(`${base}/Cast_out`)));
      out = back;
    }
    return { nodes, out };
  };

  /**
   * Every node on the way to the attention that read `x` reads x·H; other readers (a sliding
   * window's Slice of the cache into present) read it turned back, x·H·Hᵀ, so that they see the
   * quantized values un-rotated. A graph output `x` keeps its (un-rotated) value.
   */
  const rotateUses = (x: Value, size: number, r: SiteRotation, base: string, anchor: Node): Value => {
    const { nodes, out } = rotation(x, size, r, base);
    const away = x.uses().filter((u) => u.node !== nodes[0] && !reaches(u.node, anchor));
    x.replaceAllUsesWith(out, { except: new Set([nodes[0]!, ...away.map((u) => u.node)]) });
    g.insertAfter(x.producer(), nodes);
    if (away.length > 0) {
      const back = rotation(out, size, r, `${base}_back`);
      g.insertAfter(nodes[nodes.length - 1], back.nodes);
      for (const u of away) u.node.replaceInput(u.index, back.out);
    }
    return out;
  };

  /** A graph output `x` that now holds rotated values: the output becomes x·Hᵀ, under x's name. */
  const unrotateOutput = (x: Value, size: number, r: SiteRotation, base: string): void => {
    const at = g.outputs.indexOf(x);
    if (at < 0) return;
    const name = x.name;
    x.name = model.names.fresh(`${name}.rotated`);
    const { nodes, out } = rotation(x, size, r, base);
    out.name = name;
    out.type = x.type;
    g.insertAfter(x.producer(), nodes);
    g.setOutput(at, out);
  };

  /** The last axis of an edge: head_dim, or heads·head_dim when packed. */
  const width = (e: Edge, heads: number, site: Site): number => (e.layout === 'BSE' ? heads * site.headDim : site.headDim);

  for (const [site, r] of rotations) {
    const base = site.name;
    const q = site.q!;
    rotated.set(q.value, rotateUses(q.value, width(q, site.numHeads, site), r, `${base}/q_attn`, site.anchor));
    const kWidth = width(site.k, site.numKvHeads, site);
    const k = site.k.value;
    if (site.kPast !== undefined) {
      // The op concatenates past and new keys itself.
      rotated.set(k, rotateUses(k, kWidth, r, `${base}/k_cache`, site.anchor));
      const past = site.kPast.value;
      const present = site.cache?.presentKey === null || site.cache === null ? undefined : g.outputs.find((v) => v.name === site.cache!.presentKey);
      if (cacheIo === 'float') {
        rotated.set(past, rotateUses(past, width(site.kPast, site.numKvHeads, site), r, `${base}/k_cache_past`, site.anchor));
        // present is [batch, kv_heads, total, head_dim] even when the op takes packed inputs
        if (present !== undefined) unrotateOutput(present, site.headDim, r, `${base}/k_cache_present`);
      } else {
        rotatedCache.push(past.name, ...(present !== undefined ? [present.name] : []));
      }
      continue;
    }
    const concat = k.producer();
    const pastName = site.cache?.pastKey;
    const pastAt = concat?.is(Op.Concat) ? concat.inputs.findIndex((v) => v !== undefined && pastName !== undefined && readsPast(v, pastName)) : -1;
    const rank = shapeOf(k.type)?.length ?? site.k.rank;
    const axis = concat?.intAttr('axis', 0) ?? 0;
    const alongSeq = (axis < 0 ? axis + rank : axis) !== rank - 1;
    if (cacheIo === 'quantized' && site.cache !== null) {
      if (concat === undefined || pastAt < 0 || !alongSeq) {
        throw new CtcError(
          `--cache-io quantized with a transform_config: the keys of site ${site.name} (${k.name}) are not a Concat of the past input ${pastName} along the sequence, so ctc cannot keep the rotated cache as the interface; use --cache-io float`,
        );
      }
      // Rotate what is appended; the past input already holds rotated keys.
      concat.inputs.forEach((v, i) => {
        if (i === pastAt || v === undefined) return;
        const { nodes, out } = rotation(v, kWidth, r, `${base}/k_cache`);
        g.insertAfter(v.producer(), nodes);
        concat.replaceInput(i, out);
      });
      rotatedCache.push(pastName!, ...(g.outputs.includes(k) ? [k.name] : []));
      continue;
    }
    const kr = rotateUses(k, kWidth, r, `${base}/k_cache`, site.anchor);
    rotated.set(k, kr);
    // present was K itself: it leaves the graph un-rotated, read from the quantized K·H.
    if (g.outputs.includes(k)) {
      const at = g.outputs.indexOf(k);
      const name = k.name;
      k.name = model.names.fresh(`${name}.before_rotation`);
      const { nodes, out } = rotation(kr, kWidth, r, `${base}/k_cache_present`);
      out.name = name;
      out.type = k.type;
      g.insertAfter(kr.producer(), nodes);
      g.setOutput(at, out);
    }
  }
  if (rotatedCache.length > 0) {
    const first = [...rotations.values()][0]!;
    writeKvRotation(model, { type: 'hadamard', head_dim: first.args.head_dim, tensors: rotatedCache });
  }
  sortGraph(g);
  return { modified: true, rotated, rotatedCache };
}
