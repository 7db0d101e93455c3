/**
 * Convert a float32 model to float16 with the IR, as a float16 export would be: every float32
 * initializer and every float32 graph input and output becomes float16 (intermediate values have
 * no declared type, as in most exports). Graphs with Casts to float or float Constant nodes are
 * not handled (the generated blocks used here have none).
 */
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import { elemTypeOf, shapeOf, tensorType } from '../../src/ir/types.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';

export function toFloat16(model: Model): Model {
  const g = model.graph;
  if (g.nodes.some((n) => n.is(Op.Cast) || n.is(Op.Constant))) throw new Error('toFloat16: Cast and Constant nodes are not converted');
  for (const v of g.initializers) {
    const t = v.initializer!;
    if (t.dataType === DataType.FLOAT) v.initializer = Tensor.fromFloat32(t.name, DataType.FLOAT16, t.dims, t.toFloat32());
  }
  for (const v of [...g.inputs, ...g.outputs]) {
    if (elemTypeOf(v.type) === DataType.FLOAT) v.type = tensorType(DataType.FLOAT16, shapeOf(v.type));
  }
  return model;
}
