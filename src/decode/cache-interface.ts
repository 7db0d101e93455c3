/**
 * The KV cache as an application sees it in the graph interface, for `inspect --json`:
 *
 *   { "io": "quantized" | "float" | "none",
 *     "tensors": [ { "name", "direction": "input"|"output", "type", "shape",
 *                    "quantization": { "scale", "zeroPoint", "axis" } | null,
 *                    "rotation": { "type": "hadamard", "headDim", "holds" } | null,
 *                    "offset": { "initializer", "holds" } (only where the cache holds centered keys) } ],
 *     "emptyCache": how to start a generation }
 *
 * A cache tensor is a past input or present output the attention sites name (they find the
 * cache of a model ctc compiled behind its pairs, float or quantized cache I/O: kv-cache.ts), or
 * a graph input read by a DequantizeLinear or a graph output written by a QuantizeLinear or a
 * DequantizeLinear (a quantized model whose attention no pattern takes). Its quantization is the Q/DQ node's scale and zero point
 * initializers (by name) and axis. Its rotation is set when the cache holds keys rotated by a
 * transform_config (SpinQuant R3 with --cache-io quantized): the model's KV rotation record.
 * Its offset is set when the cache holds keys minus the calibrated offset m of key centering
 * (ctc_extensions.k_cache_centering with --cache-io quantized): the model's KV offset record.
 */
import type { Site } from '../attention/site.js';
import type { Model } from '../ir/model.js';
import type { Node } from '../ir/node.js';
import { elemTypeOf, shapeOf } from '../ir/types.js';
import type { Value } from '../ir/value.js';
import { dataTypeInfo } from '../ir/dtypes.js';
import { Op } from '../onnx/ops.js';
import { readKvOffset } from '../transform/kv-offset.js';
import { readKvRotation } from '../transform/kv-rotation.js';

export interface CacheTensorJson {
  readonly name: string;
  readonly direction: 'input' | 'output';
  readonly type: string;
  readonly shape: (number | string | null)[] | null;
  readonly quantization: { readonly scale: string; readonly zeroPoint: string | null; readonly axis: number } | null;
  readonly rotation: { readonly type: 'hadamard'; readonly headDim: number; readonly holds: string } | null;
  /** The initializer m that the stored keys are offset by (stored = keys − m, after the rotation). */
  readonly offset?: { readonly initializer: string; readonly holds: string };
}

export interface CacheInterfaceJson {
  readonly io: 'quantized' | 'float' | 'none';
  readonly tensors: CacheTensorJson[];
  readonly emptyCache: string | null;
}

const quantOf = (n: Node | undefined): CacheTensorJson['quantization'] =>
  n === undefined ? null : { scale: n.inputs[1]!.name, zeroPoint: n.inputs[2]?.name ?? null, axis: n.intAttr('axis', 1)! };

export function cacheInterface(model: Model, sites: readonly Site[]): CacheInterfaceJson {
  const g = model.graph;
  const rotated = readKvRotation(model);
  const centered = readKvOffset(model);
  const describe = (v: Value, direction: 'input' | 'output', q: Node | undefined): CacheTensorJson => {
    const t = elemTypeOf(v.type);
    const shape = shapeOf(v.type);
    const rotation =
      rotated !== undefined && rotated.tensors.includes(v.name)
        ? { type: 'hadamard' as const, headDim: rotated.head_dim, holds: `K·H: the keys times the orthonormal Hadamard matrix of order ${rotated.head_dim} (block-diagonal over head_dim); H is its own inverse, so K = stored·H` }
        : null;
    const m = centered?.tensors[v.name];
    const offset = m !== undefined ? { offset: { initializer: m, holds: `${centered!.holds}; m is the initializer ${m} (broadcast over batch and positions), so the keys are stored + m${rotation !== null ? ', then times H' : ''}` } } : {};
    return { name: v.name, direction, type: t === undefined ? 'unknown' : dataTypeInfo(t).name, shape: shape ? shape.map((d) => d ?? null) : null, quantization: quantOf(q), rotation, ...offset };
  };
  const named = new Set(sites.flatMap((s) => (s.cache ? [s.cache.pastKey, s.cache.pastValue, s.cache.presentKey, s.cache.presentValue] : [])).filter((n): n is string => n !== null));
  const tensors: CacheTensorJson[] = [];
  for (const v of g.inputs) {
    if (v.initializer !== undefined) continue;
    const dq = v.uses().find((u) => u.index === 0 && u.node.is(Op.DequantizeLinear))?.node;
    if (dq !== undefined || named.has(v.name)) tensors.push(describe(v, 'input', dq));
  }
  for (const v of g.outputs) {
    const p = v.producer();
    const q = p?.is(Op.QuantizeLinear) ? p : undefined;
    // float I/O after compile: present is a DequantizeLinear output (its values on the grid)
    if (q !== undefined || p?.is(Op.DequantizeLinear) || named.has(v.name)) tensors.push(describe(v, 'output', q));
  }
  if (tensors.length === 0) return { io: 'none', tensors, emptyCache: null };
  const quantized = tensors.some((t) => t.quantization !== null);
  return {
    io: quantized ? 'quantized' : 'float',
    tensors,
    emptyCache:
      'feed every past input with past length 0: shape [batch, kv_heads, 0, head_dim] in its type (no elements), attention_mask covering the prompt; ' +
      `then feed each present output back as the past input of the same layer and kind${quantized ? ', unchanged: it is already in the storage type with the scales above' : ''}`,
  };
}
