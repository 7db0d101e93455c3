/**
 * Raise the default-domain opset of a model (QDQ in float8 needs 19, int4 needs 21), rewriting
 * the ops whose signature changed on the way so the graph keeps its meaning:
 *
 *   Reduce{Max,Min,Mean,Prod,L1,L2,LogSum,LogSumExp,SumSquare} at 18 take `axes` as an input,
 *   not an attribute: the attribute becomes an int64 initializer.
 *
 * Ops whose semantics changed incompatibly (DFT at 20, GridSample at 20, GroupNormalization at
 * 21) are refused with a message, never silently reinterpreted. Subgraphs are converted too.
 */
import { CtcError } from '../src/errors.js';
import { subgraphsOf } from '../src/ir/attribute.js';
import type { Graph } from '../src/ir/graph.js';
import type { Model } from '../src/ir/model.js';
import { Tensor } from '../src/ir/tensor.js';
import { Value } from '../src/ir/value.js';

const AXES_TO_INPUT_AT_18 = new Set(['ReduceMax', 'ReduceMin', 'ReduceMean', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']);
const INCOMPATIBLE: Record<string, number> = { DFT: 20, GridSample: 20, GroupNormalization: 21 };

export interface PassResult {
  readonly modified: boolean;
}

/** Raise the "" opset to at least `target` (and the IR version as given); returns whether anything changed. */
export function upgradeOpset(model: Model, target: number, irVersion: number): PassResult {
  const from = model.opsetVersion('') ?? 1;
  let modified = false;
  if (irVersion > model.irVersion) {
    model.requireIrVersion(irVersion);
    modified = true;
  }
  if (from >= target) return { modified };
  const convert = (g: Graph): void => {
    for (const n of [...g.nodes]) {
      for (const a of n.attributes.values()) for (const sub of subgraphsOf(a)) convert(sub);
      if (n.op.domain !== '') continue;
      const breaking = INCOMPATIBLE[n.op.opType];
      if (breaking !== undefined && from < breaking && target >= breaking) {
        throw new CtcError(
          `the model uses ${n.op.opType} (node "${n.name}") at opset ${from}; quantizing needs opset ${target}, where ${n.op.opType} changed meaning at ${breaking}. Re-export the model at opset ${target} or higher.`,
        );
      }
      if (AXES_TO_INPUT_AT_18.has(n.op.opType) && from < 18 && target >= 18) {
        const axes = n.intsAttr('axes');
        n.attributes.delete('axes');
        if (axes !== undefined) {
          const name = model.names.fresh(`${n.name || n.op.opType}_axes`);
          const v = g.addInitializer(new Value(name), Tensor.fromInt64(name, [axes.length], axes));
          while (n.inputs.length < 1) n.appendInput(undefined);
          n.appendInput(v);
        }
      }
    }
  };
  convert(model.graph);
  model.opsetImports.set('', target);
  return { modified: true };
}
