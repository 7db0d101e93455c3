/**
 * Raise the default-domain opset of a model (QDQ in float8 needs 19, int4 needs 21), keeping the
 * meaning of every node on the way, or refuse with the op, the node and the reason.
 *
 *   for each graph (main, If/Loop/Scan bodies, model-local function bodies):
 *     for each default-domain node, at version v = the model's opset:
 *       change = the op's next entry in OPSET_CHANGES after v, up to the target
 *       converter(change) rewrites the node (or hands back its replacement), v = change.since
 *     … until no change is left
 *
 * The pieces live in passes/upgrade-opset/: `changes.ts` is the table (one entry per op and
 * version, each citing the ONNX changelog), one small file per converted op family
 * (`axes.ts`, `split.ts`, `softmax.ts`, `resize.ts`, …), and `step.ts` what a converter may do
 * and the stable refusal reasons. Nodes a converter creates are built for the target and are
 * not converted again. Models below MIN_OPSET are refused: before 7, elementwise ops broadcast
 * by `broadcast`/`axis` attributes and several ops carried `consumed_inputs`.
 *
 * A refusal (OpsetUpgradeError) is thrown from the node that cannot be kept, after the nodes
 * before it were converted: the model is then half raised and must be dropped, as compile does.
 */
import { OpsetUpgradeError } from '../src/errors.js';
import { subgraphsOf } from '../src/ir/attribute.js';
import type { Graph } from '../src/ir/graph.js';
import type { Model } from '../src/ir/model.js';
import type { Node } from '../src/ir/node.js';
import { ShapeFacts } from '../src/shapes/static-shapes.js';
import { nextChange } from './upgrade-opset/changes.js';
import { FIRST_VERSION } from './upgrade-opset/known-ops.js';
import { Step } from './upgrade-opset/step.js';
import type { Upgrade } from './upgrade-opset/step.js';

export const MIN_OPSET = 7;

export interface PassResult {
  readonly modified: boolean;
}

/** Raise the "" opset to at least `target` (and the IR version as given); returns whether anything changed. */
export function upgradeOpset(model: Model, target: number, irVersion: number): PassResult {
  const from = model.opsetVersion('');
  let modified = false;
  if (irVersion > model.irVersion) {
    model.requireIrVersion(irVersion);
    modified = true;
  }
  if (from !== undefined && from >= target) return { modified };
  if (from !== undefined && from < MIN_OPSET) {
    throw new OpsetUpgradeError(
      'opset-below-minimum',
      `the model imports the default ONNX opset ${from}; raising it to ${target} is supported from opset ${MIN_OPSET} (older opsets broadcast by attributes). Re-export the model at opset ${MIN_OPSET} or later.`,
    );
  }
  const version = from ?? target;
  const upgrade: Upgrade = { model, target, facts: new ShapeFacts() };
  const convertGraph = (g: Graph, inFunction: boolean): void => {
    for (const n of [...g.nodes]) {
      for (const a of n.attributes.values()) for (const sub of subgraphsOf(a)) convertGraph(sub, inFunction);
      if (n.op.domain === '') convertNode(upgrade, g, n, version, inFunction);
    }
  };
  convertGraph(model.graph, false);
  for (const f of model.functions) {
    convertGraph(f.body, true);
    if (f.opsetImports.has('')) f.opsetImports.set('', target);
  }
  model.opsetImports.set('', target);
  return { modified: true };
}

/** Walk a node through its op's changes after version `from`, one step per change. */
function convertNode(upgrade: Upgrade, graph: Graph, node: Node, from: number, inFunction: boolean): void {
  if (!FIRST_VERSION.has(node.op.opType)) {
    new Step(upgrade, graph, node, from, inFunction).refuse('unknown-op', 'no ONNX opset defines this operator in the default domain', 'Replace it by standard operators, or give it its own domain');
  }
  let n = node;
  let at = from;
  for (let change = nextChange(n.op.opType, at, upgrade.target); change !== undefined; change = nextChange(n.op.opType, at, upgrade.target)) {
    n = change.convert?.(new Step(upgrade, graph, n, change.since, inFunction)) ?? n;
    at = change.since;
  }
}
