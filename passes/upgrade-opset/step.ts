/**
 * One step of the opset upgrade: one node, raised across one changelog entry (the op's version
 * `since`). A converter gets a Step and either rewrites the node so it means the same at the
 * new version, or refuses with a reason from `RefusalReason`.
 *
 *   attribute that became an input ─▶ step.setInput(i, step.int64s('axes', [...]))
 *                                       (an initializer; a Constant node inside a function body,
 *                                        which has no initializers)
 *   helper nodes                    ─▶ step.before(op, inputs, attrs, 'what'): placed before the node
 *
 * Every new name comes from the model's name authority, derived from the node's name.
 */
import { OpsetUpgradeError } from '../../src/errors.js';
import { tensorAttr } from '../../src/ir/attribute.js';
import type { Attribute } from '../../src/ir/attribute.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Model } from '../../src/ir/model.js';
import { Node } from '../../src/ir/node.js';
import { Tensor } from '../../src/ir/tensor.js';
import { elemTypeOf } from '../../src/ir/types.js';
import { Value } from '../../src/ir/value.js';
import { DataType, dataTypeInfo, isKnownDataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';
import type { OpId } from '../../src/onnx/ops.js';
import type { ShapeFacts } from '../../src/shapes/static-shapes.js';

/** Why a node cannot be raised: stable ids that tests and callers may rely on. */
export const REFUSAL_REASONS = [
  /** The model's opset is below MIN_OPSET (legacy broadcast and consumed_inputs semantics). */
  'opset-below-minimum',
  /** A default-domain op that no ONNX opset up to 21 defines (experimental, removed, misspelt). */
  'unknown-op',
  /** BatchNormalization with spatial=0 (per-activation statistics) has no counterpart from 9 on. */
  'batchnorm-not-spatial',
  /** BatchNormalization with its training outputs (mean, var, saved_*) cannot be kept from 14 on. */
  'batchnorm-training-outputs',
  /** Dropout's mask output changed type (T to bool) at 10 and the model reads it. */
  'dropout-mask-type',
  /** Scan-8 iterates a batch axis and takes sequence_lens; Scan-9 has neither. */
  'scan-8-batch-axis',
  /** Resize-10 nearest: rounding is specified only when upsampling (constant scales ≥ 1). */
  'resize-nearest-rounding',
  /** A Resize/Upsample mode or coordinate mode that the newer version no longer has. */
  'resize-mode-removed',
  /** ConvTranspose's SAME_UPPER/SAME_LOWER padding split was re-specified at 11. */
  'conv-transpose-same-padding',
  /** Erf on an integer tensor: integer types were dropped at 13. */
  'erf-integer-input',
  /** QuantizeLinear of int32 with a float scale: from 19 x and y_scale share one type. */
  'quantize-int32-input',
  /** An attribute must become an input of the data's element type, which is not declared. */
  'element-type-unknown',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** What every step of one upgrade shares. */
export interface Upgrade {
  readonly model: Model;
  /** The opset the whole model is raised to. */
  readonly target: number;
  /** Static shapes (conversions keep every value's shape, so what is memoized stays true). */
  readonly facts: ShapeFacts;
}

export class Step {
  readonly model: Model;
  readonly target: number;

  constructor(
    private readonly upgrade: Upgrade,
    readonly graph: Graph,
    readonly node: Node,
    /** The changelog version being crossed. */
    readonly since: number,
    /** Function bodies hold no initializers: constants become Constant nodes there. */
    readonly inFunction: boolean,
  ) {
    this.model = upgrade.model;
    this.target = upgrade.target;
  }

  private get base(): string {
    return this.node.name || this.node.op.opType;
  }

  /** A constant tensor as a value usable by the node. */
  constant(what: string, t: Tensor): Value {
    const name = this.model.names.fresh(`${this.base}_${what}`);
    t.name = name;
    if (!this.inFunction) return this.graph.addInitializer(new Value(name), t);
    const out = new Value(name);
    this.graph.insertBefore(this.node, [new Node(Op.Constant, [], [out], [tensorAttr('value', t)], this.model.names.fresh(`${this.base}/${what}`))]);
    return out;
  }

  int64s(what: string, values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant(what, Tensor.fromInt64('', dims, values));
  }

  float32s(what: string, values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant(what, Tensor.fromFloat32('', DataType.FLOAT, dims, values));
  }

  /**
   * A scalar with the element type of `like`, for a float attribute that became an input typed
   * like the data (Pad's value, Clip's bounds). With the type undeclared, CastLike (opset 15)
   * gives the float the data's type at run time.
   */
  scalarLike(what: string, value: number, like: Value): Value {
    const type = this.elemType(like);
    if (type !== undefined && isKnownDataType(type)) return this.constant(what, Tensor.fromFloat32('', type, [], [value]));
    if (this.target < 15) {
      this.refuse('element-type-unknown', `its ${what} becomes an input typed like "${like.name}", whose element type the model does not declare`, `Declare the type of "${like.name}" (value_info), or raise to opset 15 or later`);
    }
    return this.before(Op.CastLike, [this.float32s(what, [value], []), like], [], `${what}_like`);
  }

  /** Insert a node before this one; returns its (first) output. */
  before(op: OpId, inputs: readonly (Value | undefined)[], attrs: readonly Attribute[], what: string): Value {
    const name = this.model.names.fresh(`${this.base}/${what}`);
    const out = new Value(this.model.names.fresh(`${name}_output`));
    this.graph.insertBefore(this.node, [new Node(op, inputs, [out], attrs, name)]);
    return out;
  }

  /** Put `v` at input `index`, filling skipped optional inputs with "". */
  setInput(index: number, v: Value | undefined): void {
    while (this.node.inputs.length < index) this.node.appendInput(undefined);
    if (this.node.inputs.length === index) this.node.appendInput(v);
    else this.node.replaceInput(index, v);
  }

  elemType(v: Value): number | undefined {
    return v.initializer?.dataType ?? elemTypeOf(v.type);
  }

  /** Static dimensions of `v` (declared, or derived through the graph), if its rank is known. */
  dims(v: Value): readonly (number | string | undefined)[] | undefined {
    return this.upgrade.facts.dims(v);
  }

  isIntegerType(type: number | undefined): boolean {
    return type !== undefined && /int/.test(dataTypeInfo(type).name);
  }

  /** Whether output i exists and something reads it (a node or the graph's outputs). */
  outputRead(i: number): boolean {
    const o = this.node.outputs[i];
    return o !== undefined && o.name !== '' && (o.uses().length > 0 || o.isGraphOutput());
  }

  refuse(reason: RefusalReason, why: string, fix: string): never {
    const n = this.node;
    throw new OpsetUpgradeError(
      reason,
      `cannot raise ${n.op.opType} node "${n.name}" to opset ${this.target}: ${why} (changed at opset ${this.since}). ${fix}.`,
    );
  }
}
