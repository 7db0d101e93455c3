/**
 * `--cache-io quantized`: the KV cache crosses the graph's interface in its storage type (int8,
 * float8e4m3fn, int4), so the cache an application keeps between decode steps is 4× (8 bits) or
 * 8× (4 bits, two per byte) smaller than float32. Runs after the QDQ rewrite, on its pairs:
 *
 *   cache concatenated in the graph (decomposed attention):
 *     before: past (float) ─▶ Concat ─ Q ─ DQ ─▶ present (float output)
 *                                           └─ Max ─▶ attention
 *     after:  past (storage) ─ DQ ─ Max ─▶ Concat ─ Q ─▶ present (storage output)
 *                                                    └─ DQ ─ Max ─▶ attention
 *
 *   a sliding-window present (a Slice of the cache's last positions; no float8 Slice exists):
 *     after:  … Concat ─ Q ─ DQ ─ Max ─ Slice ─ Q (the same scale) ─▶ present (storage output)
 *
 *   cache concatenated inside the op (ONNX Attention, MultiHeadAttention, GroupQueryAttention):
 *     before: past (float) ─ Q ─ DQ ─ Max ─▶ op ─▶ present (float output)
 *     after:  past (storage) ─ DQ ─ Max ─▶ op ─▶ present.unquantized ─ Q ─▶ present (storage output)
 *
 * The scales, zero points and axes are the pair's own: an application feeds `present` back as
 * `past` unchanged, and since QuantizeLinear(DequantizeLinear(q)) = q with one scale, the cache
 * inside the graph holds exactly the values it holds with float I/O. Names never change.
 */
import { CtcError } from '../src/errors.js';
import type { CacheIO, Site } from '../src/attention/site.js';
import type { Model } from '../src/ir/model.js';
import { Node } from '../src/ir/node.js';
import { shapeOf, tensorType } from '../src/ir/types.js';
import { Value } from '../src/ir/value.js';
import { sortGraph } from '../src/ir/topo.js';
import type { DataType } from '../src/ir/dtypes.js';
import { dataTypeInfo } from '../src/ir/dtypes.js';
import { Op } from '../src/onnx/ops.js';
import { isGuard, pairProducing } from '../src/attention/qdq-pair.js';
import { existingQdq } from './insert-qdq.js';

export type CacheIoMode = 'float' | 'quantized';

/** One cache tensor of the interface: a past input or a present output, in its storage type. */
export interface CacheTensor {
  readonly name: string;
  readonly direction: 'input' | 'output';
  readonly type: string;
  readonly scale: string;
  readonly zeroPoint: string;
  readonly axis: number;
}

export interface CacheIoResult {
  readonly modified: boolean;
  readonly tensors: readonly CacheTensor[];
}

/** The quantization of one cache tensor: the pair's Q node (scale, zero point, axis). */
interface Pair {
  readonly scale: Value;
  readonly zeroPoint: Value;
  readonly axis: number;
  readonly storage: DataType;
}

function pairOf(q: Node): Pair {
  const zp = q.inputs[2]!;
  return { scale: q.inputs[1]!, zeroPoint: zp, axis: q.intAttr('axis', 1)!, storage: zp.initializer!.dataType };
}

/**
 * The QuantizeLinear of the cache that a sliding-window present is cut from:
 * present ─[Identity]─ Slice ─ Max(d, d) ─ d = DequantizeLinear(QuantizeLinear(cache)).
 */
function windowQuantization(present: Value): Node | undefined {
  let p = present.producer();
  while (p?.is(Op.Identity)) p = p.inputs[0]?.producer();
  if (!p?.is(Op.Slice) || p.inputs[0] === undefined) return undefined;
  const g = p.inputs[0].producer();
  return g !== undefined && isGuard(g) ? pairProducing(p.inputs[0])?.quantize : undefined;
}

/**
 * The float graph output `present` quantized with the pair's scale and zero point (and `like`'s
 * attributes): a QuantizeLinear after it whose output takes its name and its place among the
 * graph outputs; the float value is renamed. Returns the output's name.
 */
function quantizeOutput(model: Model, present: Value, pair: Pair, like: Node, site: string): string {
  const g = model.graph;
  const out = new Value(present.name, tensorType(pair.storage, shapeOf(present.type)));
  present.name = model.names.fresh(`${out.name}.unquantized`);
  const q = new Node(Op.QuantizeLinear, [present, pair.scale, pair.zeroPoint], [out], [...like.attributes.values()], model.names.fresh(`${site}/${out.name}/QuantizeLinear`));
  g.insertAfter(present.producer(), [q]);
  g.setOutput(g.outputs.indexOf(present), out);
  return out.name;
}

export function quantizeCacheIo(model: Model, sites: readonly Site[]): CacheIoResult {
  const g = model.graph;
  const withCache = sites.filter((s): s is Site & { cache: CacheIO } => s.cache !== null);
  if (withCache.length === 0) {
    throw new CtcError('--cache-io quantized: no attention site of this model has a KV cache in the graph interface (past inputs, present outputs); use --cache-io float');
  }
  const tensors: CacheTensor[] = [];
  const byName = (list: readonly Value[], name: string): Value | undefined => list.find((v) => v.name === name);
  const describe = (name: string, direction: 'input' | 'output', p: Pair): CacheTensor => ({
    name,
    direction,
    type: dataTypeInfo(p.storage).name,
    scale: p.scale.name,
    zeroPoint: p.zeroPoint.name,
    axis: p.axis,
  });

  for (const s of withCache) {
    for (const [pastName, presentName] of [
      [s.cache.pastKey, s.cache.presentKey],
      [s.cache.pastValue, s.cache.presentValue],
    ] as const) {
      const past = byName(g.inputs, pastName);
      if (past === undefined) throw new CtcError(`--cache-io quantized: site ${s.name} names the cache input "${pastName}", which is not a graph input`);
      const present = presentName === null ? undefined : byName(g.outputs, presentName);
      const ownQ = existingQdq(past);
      if (ownQ !== undefined) {
        // Cache inside the op: past ─ Q ─ DQ. The input becomes Q's output type; Q goes.
        const pair = pairOf(ownQ);
        const dq = ownQ.output(0).uses().find((u) => u.node.is(Op.DequantizeLinear))!.node;
        dq.replaceInput(0, past);
        g.removeNode(ownQ);
        past.type = tensorType(pair.storage, shapeOf(past.type));
        tensors.push(describe(pastName, 'input', pair));
        if (present !== undefined) tensors.push(describe(quantizeOutput(model, present, pair, ownQ, s.name), 'output', pair));
        continue;
      }
      // Cache concatenated in the graph: present is DQ(Q(concat)), or a window of it; past feeds the concat.
      const dqPresent = present?.producer();
      const qPresent = dqPresent?.is(Op.DequantizeLinear) ? dqPresent.inputs[0]?.producer() : undefined;
      const qWindow = present === undefined ? undefined : windowQuantization(present);
      if (present === undefined || (!qPresent?.is(Op.QuantizeLinear) && qWindow === undefined)) {
        throw new CtcError(`--cache-io quantized: the cache of site ${s.name} (${pastName} -> ${presentName ?? 'no output'}) is not quantized by this rule set; quantize K and V (a kv_cache_scheme) or use --cache-io float`);
      }
      const cacheQ = qPresent?.is(Op.QuantizeLinear) ? qPresent : qWindow!;
      const pair = pairOf(cacheQ);
      if (qPresent?.is(Op.QuantizeLinear)) {
        // present: the Q output becomes the graph output; the DQ keeps feeding the attention.
        const qOut = qPresent.output(0);
        const name = present.name;
        present.name = model.names.fresh(`${name}.dequantized`);
        qOut.name = name;
        qOut.type = tensorType(pair.storage, shapeOf(present.type));
        g.setOutput(g.outputs.indexOf(present), qOut);
        tensors.push(describe(name, 'output', pair));
      } else {
        // A sliding window of the dequantized cache (onnxruntime has no float8 Slice): quantized
        // again with the pair's own scale, which gives back the stored values exactly.
        tensors.push(describe(quantizeOutput(model, present, pair, cacheQ, s.name), 'output', pair));
      }
      // past: a DQ (and its guard) in front of every use.
      past.type = tensorType(pair.storage, shapeOf(past.type));
      const deq = new Value(model.names.fresh(`${pastName}.dequantized`));
      const guarded = new Value(model.names.fresh(`${pastName}.guarded`));
      const dq = new Node(Op.DequantizeLinear, [past, pair.scale, pair.zeroPoint], [deq], [...cacheQ.attributes.values()], model.names.fresh(`${s.name}/${pastName}/DequantizeLinear`));
      const guard = new Node(Op.Max, [deq, deq], [guarded], [], model.names.fresh(`${s.name}/${pastName}/Guard`));
      past.replaceAllUsesWith(guarded, { except: new Set([dq]) });
      g.insertAfter(undefined, [dq, guard]);
      tensors.push(describe(pastName, 'input', pair));
    }
  }
  sortGraph(g);
  // In interface order: the inputs as the graph lists them, then the outputs.
  const order = (t: CacheTensor): number => (t.direction === 'input' ? g.inputs.findIndex((v) => v.name === t.name) : g.inputs.length + g.outputs.findIndex((v) => v.name === t.name));
  return { modified: true, tensors: tensors.sort((a, b) => order(a) - order(b)) };
}
