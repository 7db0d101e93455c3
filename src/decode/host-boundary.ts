/**
 * onnxruntime-node 1.30 cannot pass every storage type of a quantized cache across its
 * JavaScript API (measured): a session on a model with float8e4m3fn inputs or outputs fails
 * to create ("Unsupported data type: 17"), and an int4 input tensor is refused at run time
 * ("Tensor.type is not supported: int4"). int8 passes both ways.
 *
 * For a Node process, this rewrites a `--cache-io quantized` model so its cache interface is
 * float at the boundary and the storage type inside:
 *
 *   past (float) ─ QuantizeLinear ─▶ [storage] ─ DequantizeLinear ─ …   (the model's own DQ)
 *   … ─ QuantizeLinear ─▶ [storage] ─ DequantizeLinear ─▶ present (float)
 *
 * with the cache's own scale, zero point and axis. A present value fed back as past is
 * re-quantized to the same code (QuantizeLinear(DequantizeLinear(q)) = q with one scale), so
 * the graph inside runs exactly as with storage-typed I/O; only the host's buffers are float.
 * A C, C++ or Python host passes the storage type itself and needs none of this.
 */
import type { Model } from '../ir/model.js';
import { Node } from '../ir/node.js';
import { shapeOf, tensorType, elemTypeOf } from '../ir/types.js';
import { Value } from '../ir/value.js';
import { sortGraph } from '../ir/topo.js';
import { DataType } from '../ir/dtypes.js';
import { Op } from '../onnx/ops.js';

/** Wrap the quantized cache inputs and outputs of `model` (in place) in float; returns how many. */
export function floatBoundary(model: Model, isCache: (name: string) => boolean): number {
  const g = model.graph;
  let wrapped = 0;
  for (const v of g.inputs) {
    if (!isCache(v.name) || elemTypeOf(v.type) === DataType.FLOAT) continue;
    const dq = v.uses().find((u) => u.node.is(Op.DequantizeLinear) && u.index === 0)?.node;
    if (dq === undefined) continue;
    const stored = new Value(model.names.fresh(`${v.name}.stored`), v.type);
    const q = new Node(Op.QuantizeLinear, [v, dq.inputs[1], dq.inputs[2]], [stored], [...dq.attributes.values()], model.names.fresh(`${v.name}/HostQuantizeLinear`));
    v.replaceAllUsesWith(stored, { except: new Set([q]) });
    v.type = tensorType(DataType.FLOAT, shapeOf(v.type));
    g.insertAfter(undefined, [q]);
    wrapped++;
  }
  g.outputs.forEach((o, i) => {
    const q = o.producer();
    if (!isCache(o.name) || elemTypeOf(o.type) === DataType.FLOAT || !q?.is(Op.QuantizeLinear)) return;
    const name = o.name;
    o.name = model.names.fresh(`${name}.stored`);
    const f = new Value(name, tensorType(DataType.FLOAT, shapeOf(o.type)));
    g.appendNode(new Node(Op.DequantizeLinear, [o, q.inputs[1], q.inputs[2]], [f], [...q.attributes.values()], model.names.fresh(`${name}/HostDequantizeLinear`)));
    g.setOutput(i, f);
    wrapped++;
  });
  sortGraph(g);
  return wrapped;
}
