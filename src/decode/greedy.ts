/**
 * Greedy decoding with a KV cache, the way an application runs a compiled decoder:
 *
 *   step 0:  input_ids = prompt, attention_mask = ones(P0 + S), past = empty (length 0)
 *   step n:  input_ids = [argmax of the last logits row], mask one longer, past = present of step n-1
 *
 * The decoder's interface is Hugging Face's (as the corpus exports it): `input_ids`,
 * `attention_mask`, `past_key_values.N.key|value` [B, kv_heads, past, head_dim] in, `logits`
 * and `present.N.key|value` out, present N feeding past N. The cache tensors are passed back as
 * they come out, in whatever type the graph declares (float32, or int8 with --cache-io
 * quantized), so the loop measures the cache the application holds.
 */
import { performance } from 'node:perf_hooks';
import type { Model } from '../ir/model.js';
import { elemTypeOf, shapeOf } from '../ir/types.js';
import { DataType, dataTypeInfo } from '../ir/dtypes.js';
import { CtcError } from '../errors.js';
import { ort } from '../calibrate/ort.js';
import type { Session } from '../calibrate/ort.js';

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

/** The past inputs of a decoder and the present output each one is fed from. */
export interface CachePlan {
  readonly inputs: readonly { readonly past: string; readonly present: string; readonly type: DataType; readonly dims: readonly number[] }[];
}

/** The cache types onnxruntime-node can pass, with the typed array of each (float16 as bits). */
const EMPTY: Partial<Record<DataType, () => ort.Tensor.DataType>> = {
  [DataType.FLOAT]: () => new Float32Array(0),
  [DataType.FLOAT16]: () => new Uint16Array(0),
  [DataType.INT8]: () => new Int8Array(0),
  [DataType.UINT8]: () => new Uint8Array(0),
};
const ORT_TYPE: Partial<Record<DataType, ort.Tensor.Type>> = { [DataType.FLOAT]: 'float32', [DataType.FLOAT16]: 'float16', [DataType.INT8]: 'int8', [DataType.UINT8]: 'uint8' };

/**
 * The cache inputs of `model` with their empty shape: batch 1, past length 0, the declared
 * kv_heads and head_dim ([1, kv_heads, 0, head_dim], in the declared type).
 */
export function cachePlan(model: Model): CachePlan {
  const inputs = model.graph.inputs
    .filter((v) => PAST.test(v.name))
    .map((v) => {
      const [, layer, kind] = PAST.exec(v.name)!;
      const shape = shapeOf(v.type);
      if (shape === undefined || shape.length !== 4 || typeof shape[1] !== 'number' || typeof shape[3] !== 'number') {
        throw new CtcError(`${v.name}: a cache input needs the shape [batch, kv_heads, past, head_dim] with kv_heads and head_dim fixed`);
      }
      return { past: v.name, present: `present.${layer}.${kind}`, type: elemTypeOf(v.type) as DataType, dims: [1, shape[1], 0, shape[3]] };
    });
  if (inputs.length === 0) throw new CtcError('the model has no past_key_values.N.key|value inputs: it is not a decoder with a KV cache');
  return { inputs };
}

export function emptyCache(plan: CachePlan): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const c of plan.inputs) {
    const type = ORT_TYPE[c.type];
    const data = EMPTY[c.type];
    if (type === undefined || data === undefined) throw new CtcError(`${c.past}: onnxruntime-node cannot pass a ${dataTypeInfo(c.type).name} tensor (README, "The KV cache interface", says what a host does)`);
    out[c.past] = new ort.Tensor(type as 'float32', data() as Float32Array, [...c.dims]);
  }
  return out;
}

export interface DecodeResult {
  /** The generated tokens (not the prompt). */
  readonly tokens: number[];
  /** Wall time of each session run, in milliseconds (step 0 processes the whole prompt). */
  readonly stepMs: number[];
  /** Bytes of the cache tensors after the last step (what the application holds). */
  readonly cacheBytes: number;
  /** Cache length after the last step: prompt + generated - 1. */
  readonly cacheTokens: number;
}

const argmaxLastRow = (logits: ort.Tensor): number => {
  const [, s, v] = logits.dims as number[];
  const d = logits.data as Float32Array;
  const row = (s! - 1) * v!;
  let best = 0;
  for (let i = 1; i < v!; i++) if (d[row + i]! > d[row + best]!) best = i;
  return best;
};

/** Decode `steps` tokens greedily after `prompt`, feeding each present back as past. */
export async function greedyDecode(session: Session, plan: CachePlan, prompt: readonly number[], steps: number): Promise<DecodeResult> {
  let cache = emptyCache(plan);
  let ids = [...prompt];
  let length = 0;
  const tokens: number[] = [];
  const stepMs: number[] = [];
  const fetches = ['logits', ...plan.inputs.map((c) => c.present)];
  for (let step = 0; step < steps; step++) {
    length += ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(length).fill(1n), [1, length]),
      ...cache,
    };
    const t0 = performance.now();
    const out = await session.run(feeds, fetches);
    stepMs.push(performance.now() - t0);
    const next = argmaxLastRow(out['logits']!);
    tokens.push(next);
    ids = [next];
    cache = Object.fromEntries(plan.inputs.map((c) => [c.past, out[c.present]!]));
  }
  const cacheBytes = Object.values(cache).reduce((a, t) => a + (t.data as ArrayBufferView).byteLength, 0);
  return { tokens, stepMs, cacheBytes, cacheTokens: length };
}
