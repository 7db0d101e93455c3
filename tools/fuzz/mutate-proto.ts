/**
 * Structural mutations of an ONNX model: decode the ModelProto with the schema the project's
 * serde uses, change what a broken exporter or a hostile file could change, re-encode.
 *
 *   bytes ─▶ ModelProto ─▶ k edits (node inputs/outputs, op types, attributes, dims, dtypes,
 *   initializer data incl. NaN/Inf, external-data entries, opsets, graph inputs/outputs) ─▶ bytes
 *
 * Every value written fits its protobuf field, so encoding never fails: what ctc reads is a
 * well-formed protobuf that describes a wrong model.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import type { GraphProto, ModelProto, NodeProto, TensorProto, TypeProto_Tensor, ValueInfoProto } from 'onnx-buf';
import { ModelProtoSchema } from '../../src/onnx/serde.js';
import type { Rng } from './rng.js';

const I64 = [0n, -1n, 1n, 2n, 3n, 4n, 7n, 16n, 64n, 2n ** 31n, 2n ** 32n, 2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n];
const F32 = [Number.NaN, Infinity, -Infinity, 0, -0, 3.4e38, 1e-45, -1, 1e6];
const OPS = ['Softmax', 'MatMul', 'Reshape', 'Transpose', 'Attention', 'Identity', 'Concat', 'Mul', 'Div', 'Add', 'Gather', 'Cast', 'MultiHeadAttention', 'GroupQueryAttention', 'If', 'Loop', 'FooBar', ''];
const DOMAINS = ['', 'ai.onnx', 'com.microsoft', 'ai.onnx.preview', 'bogus.domain'];
const ATTR_NAMES = ['axis', 'perm', 'num_heads', 'q_num_heads', 'kv_num_heads', 'scale', 'is_causal', 'softcap', 'to', 'value', 'allowzero', 'qk_matmul_output_mode'];
const DIM_PARAMS = ['', 'batch', 'sequence_length', 'past_sequence_length', 'N', 'x y', 'batch_size'];

function tensorTypeOf(v: ValueInfoProto): TypeProto_Tensor | undefined {
  return v.type?.value.case === 'tensorType' ? v.type.value.value : undefined;
}

/** Every TensorProto of a graph: initializers and Constant/attribute tensors. */
function tensorsOf(g: GraphProto): TensorProto[] {
  const out = [...g.initializer];
  for (const n of g.node) for (const a of n.attribute) if (a.t) out.push(a.t);
  return out;
}

function valueNames(g: GraphProto): string[] {
  const names = new Set<string>();
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) names.add(v.name);
  for (const t of g.initializer) names.add(t.name);
  for (const n of g.node) for (const x of [...n.input, ...n.output]) names.add(x);
  return [...names];
}

function patchFloatData(rng: Rng, t: TensorProto): string {
  const value = rng.pick(F32);
  if (t.rawData.length >= 4 && t.dataType === 1) {
    const raw = new Uint8Array(t.rawData);
    const view = new DataView(raw.buffer);
    const count = rng.int(1, 3);
    for (let k = 0; k < count; k++) view.setFloat32(4 * rng.int(0, raw.length / 4 - 1), value, true);
    t.rawData = raw;
  } else if (t.rawData.length >= 2 && (t.dataType === 10 || t.dataType === 16)) {
    const raw = new Uint8Array(t.rawData);
    const at = 2 * rng.int(0, raw.length / 2 - 1);
    const code = rng.pick(t.dataType === 10 ? [0x7e00, 0x7c00, 0xfc00, 0x0001] : [0x7fc0, 0x7f80, 0xff80, 0x0001]);
    raw[at] = code & 0xff;
    raw[at + 1] = code >> 8;
    t.rawData = raw;
  } else if (t.floatData.length > 0) t.floatData[rng.int(0, t.floatData.length - 1)] = value;
  else if (t.rawData.length >= 8 && t.dataType === 7) {
    const raw = new Uint8Array(t.rawData);
    new DataView(raw.buffer).setBigInt64(8 * rng.int(0, raw.length / 8 - 1), rng.pick(I64), true);
    t.rawData = raw;
    return `int64 element of "${t.name}"`;
  } else if (t.int64Data.length > 0) {
    t.int64Data[rng.int(0, t.int64Data.length - 1)] = rng.pick(I64);
    return `int64_data of "${t.name}"`;
  } else return `nothing in "${t.name}"`;
  return `${value} into "${t.name}"`;
}

export function mutateTensor(rng: Rng, t: TensorProto): string {
  switch (rng.int(0, 6)) {
    case 0:
    case 1:
      return `data: ${patchFloatData(rng, t)}`;
    case 2:
      t.rawData = t.rawData.subarray(0, rng.int(0, t.rawData.length));
      return `raw_data of "${t.name}" cut to ${t.rawData.length}`;
    case 3: {
      if (t.dims.length > 0 && rng.chance(0.7)) t.dims[rng.int(0, t.dims.length - 1)] = rng.pick(I64);
      else if (rng.chance(0.5)) t.dims.push(rng.pick(I64));
      else t.dims = [];
      return `dims of "${t.name}" = [${t.dims.join(',')}]`;
    }
    case 4:
      t.dataType = rng.pick([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 17, 19, 21, 22, 23, 40, 99]);
      return `data_type of "${t.name}" = ${t.dataType}`;
    case 5: {
      t.dataLocation = TensorProto_DataLocation.EXTERNAL;
      const location = rng.pick(['weights.bin', 'model.onnx', '../model.onnx', '/etc/hostname', '', 'missing.data', 'model.onnx.data']);
      t.externalData = [create(StringStringEntryProtoSchema, { key: 'location', value: location })];
      if (rng.chance(0.5)) t.externalData.push(create(StringStringEntryProtoSchema, { key: 'offset', value: rng.pick(['0', '-1', '1e30', 'abc', '7']) }));
      if (rng.chance(0.5)) t.externalData.push(create(StringStringEntryProtoSchema, { key: 'length', value: rng.pick(['0', '4', '-4', '99999999999', 'x']) }));
      return `"${t.name}" made external at "${location}"`;
    }
    default:
      if (t.rawData.length > 0 && t.dataType === 1) {
        t.floatData = Array.from(new Float32Array(new Uint8Array(t.rawData).buffer.slice(0, t.rawData.length - (t.rawData.length % 4))));
        if (rng.chance(0.5)) t.rawData = new Uint8Array(0);
        return `"${t.name}" float_data filled${t.rawData.length > 0 ? ' beside raw_data' : ''}`;
      }
      t.name = rng.pick(['', 'x', t.name + '_']);
      return `tensor renamed "${t.name}"`;
  }
}

function mutateAttribute(rng: Rng, n: NodeProto): string {
  if (n.attribute.length === 0 || rng.chance(0.25)) {
    const a = create(AttributeProtoSchema, { name: rng.pick(ATTR_NAMES), type: AT.INT, i: rng.pick(I64) });
    if (rng.chance(0.3)) Object.assign(a, { type: AT.INTS, ints: [rng.pick(I64), rng.pick(I64)], i: 0n });
    if (rng.chance(0.2)) Object.assign(a, { type: AT.FLOAT, f: rng.pick(F32), i: 0n });
    n.attribute.push(a);
    return `attribute ${a.name} added to ${n.opType} "${n.name}"`;
  }
  const i = rng.int(0, n.attribute.length - 1);
  const a = n.attribute[i]!;
  switch (rng.int(0, 5)) {
    case 0:
      n.attribute.splice(i, 1);
      return `attribute ${a.name} dropped from "${n.name}"`;
    case 1:
      a.i = rng.pick(I64);
      return `${a.name}.i = ${a.i}`;
    case 2:
      a.f = rng.pick(F32);
      return `${a.name}.f = ${a.f}`;
    case 3:
      if (a.ints.length > 0 && rng.chance(0.7)) a.ints[rng.int(0, a.ints.length - 1)] = rng.pick(I64);
      else a.ints = rng.chance(0.5) ? [] : [...a.ints, rng.pick(I64)];
      return `${a.name}.ints = [${a.ints.join(',')}]`;
    case 4:
      a.type = rng.pick([AT.UNDEFINED, AT.FLOAT, AT.INT, AT.STRING, AT.TENSOR, AT.GRAPH, AT.FLOATS, AT.INTS, AT.STRINGS]);
      return `${a.name}.type = ${a.type}`;
    default:
      if (a.t) return `tensor attribute ${a.name}: ${mutateTensor(rng, a.t)}`;
      a.name = rng.pick(ATTR_NAMES);
      return `attribute renamed ${a.name}`;
  }
}

function mutateValueInfo(rng: Rng, v: ValueInfoProto): string {
  const tt = tensorTypeOf(v);
  if (!tt) {
    v.type = undefined;
    return `type of "${v.name}" removed`;
  }
  switch (rng.int(0, 3)) {
    case 0:
      tt.elemType = rng.pick([0, 1, 2, 3, 6, 7, 9, 10, 11, 16, 17, 99]);
      return `elem_type of "${v.name}" = ${tt.elemType}`;
    case 1: {
      if (!tt.shape) {
        tt.shape = create(TensorShapeProtoSchema, {});
        return `empty shape on "${v.name}"`;
      }
      if (tt.shape.dim.length === 0 || rng.chance(0.2)) {
        tt.shape.dim.push(create(TensorShapeProto_DimensionSchema, { value: { case: 'dimValue', value: rng.pick(I64) } }));
        return `dim added to "${v.name}"`;
      }
      const d = tt.shape.dim[rng.int(0, tt.shape.dim.length - 1)]!;
      if (rng.chance(0.6)) d.value = { case: 'dimValue', value: rng.pick(I64) };
      else if (rng.chance(0.8)) d.value = { case: 'dimParam', value: rng.pick(DIM_PARAMS) };
      else d.value = { case: undefined };
      return `a dim of "${v.name}" = ${String(d.value.value)}`;
    }
    case 2:
      if (tt.shape && tt.shape.dim.length > 0) {
        tt.shape.dim.splice(rng.int(0, tt.shape.dim.length - 1), 1);
        return `a dim of "${v.name}" removed`;
      }
      tt.shape = undefined;
      return `shape of "${v.name}" removed`;
    default:
      tt.shape = undefined;
      return `shape of "${v.name}" removed`;
  }
}

type Edit = (rng: Rng, m: ModelProto, g: GraphProto) => string;

const EDITS: readonly (readonly [number, Edit])[] = [
  [
    4,
    (rng, _m, g) => {
      const n = rng.pick(g.node.filter((x) => x.input.length > 0));
      const j = rng.int(0, n.input.length - 1);
      n.input[j] = rng.weighted([
        [5, () => rng.pick(valueNames(g))],
        [1, () => ''],
        [1, () => 'no_such_value'],
        [1, () => n.output[0] ?? 'x'],
      ] as const)();
      return `input ${j} of ${n.opType} "${n.name}" = "${n.input[j]}"`;
    },
  ],
  [
    2,
    (rng, _m, g) => {
      const n = rng.pick(g.node.filter((x) => x.output.length > 0));
      const j = rng.int(0, n.output.length - 1);
      n.output[j] = rng.chance(0.8) ? rng.pick(valueNames(g)) : '';
      return `output ${j} of ${n.opType} "${n.name}" = "${n.output[j]}"`;
    },
  ],
  [
    2,
    (rng, _m, g) => {
      const i = rng.int(0, g.node.length - 1);
      const [n] = g.node.splice(i, 1);
      return `node ${n!.opType} "${n!.name}" removed`;
    },
  ],
  [
    1,
    (rng, _m, g) => {
      const n = rng.pick(g.node);
      g.node.splice(rng.int(0, g.node.length), 0, n);
      return `node ${n.opType} "${n.name}" duplicated`;
    },
  ],
  [
    1,
    (rng, _m, g) => {
      const a = rng.int(0, g.node.length - 1);
      const b = rng.int(0, g.node.length - 1);
      [g.node[a], g.node[b]] = [g.node[b]!, g.node[a]!];
      return `nodes ${a} and ${b} swapped`;
    },
  ],
  [
    2,
    (rng, _m, g) => {
      const n = rng.pick(g.node);
      const was = n.opType;
      n.opType = rng.pick(OPS);
      if (rng.chance(0.3)) n.domain = rng.pick(DOMAINS);
      return `${was} "${n.name}" became ${n.domain}:${n.opType}`;
    },
  ],
  [1, (rng, _m, g) => {
    const n = rng.pick(g.node);
    n.domain = rng.pick(DOMAINS);
    return `domain of "${n.name}" = "${n.domain}"`;
  }],
  [4, (rng, _m, g) => mutateAttribute(rng, rng.pick(g.node))],
  [
    4,
    (rng, _m, g) => {
      // Prefer the attention path: Softmax, MatMul, Reshape, Transpose, attention ops.
      const hot = g.node.filter((n) => /Softmax|MatMul|Reshape|Transpose|Attention/.test(n.opType));
      return mutateAttribute(rng, rng.pick(hot.length > 0 ? hot : g.node));
    },
  ],
  [4, (rng, _m, g) => mutateValueInfo(rng, rng.pick([...g.input, ...g.output, ...g.valueInfo]))],
  [
    5,
    (rng, _m, g) => {
      const ts = tensorsOf(g);
      return ts.length === 0 ? 'no tensor' : mutateTensor(rng, rng.pick(ts));
    },
  ],
  [
    1,
    (rng, m) => {
      const o = m.opsetImport.length > 0 && rng.chance(0.8) ? rng.pick(m.opsetImport) : undefined;
      if (o === undefined) {
        m.opsetImport = rng.chance(0.5) ? [] : [...m.opsetImport, ...m.opsetImport];
        return `opset_import = ${m.opsetImport.length} entries`;
      }
      o.version = rng.pick([0n, 1n, 7n, 13n, 17n, 21n, 23n, 24n, 99n, 2n ** 40n, -1n]);
      return `opset ${o.domain || 'ai.onnx'} = ${o.version}`;
    },
  ],
  [
    1,
    (rng, m) => {
      m.irVersion = rng.pick([0n, 1n, 3n, 7n, 10n, 11n, 12n, 99n, -1n]);
      return `ir_version = ${m.irVersion}`;
    },
  ],
  [
    2,
    (rng, _m, g) => {
      switch (rng.int(0, 4)) {
        case 0:
          if (g.input.length > 0) return `graph input "${g.input.splice(rng.int(0, g.input.length - 1), 1)[0]!.name}" removed`;
          return 'no input';
        case 1:
          if (g.output.length > 0) return `graph output "${g.output.splice(rng.int(0, g.output.length - 1), 1)[0]!.name}" removed`;
          return 'no output';
        case 2: {
          const name = rng.chance(0.7) ? rng.pick(valueNames(g)) : 'no_such_value';
          g.output.push(create(ValueInfoProtoSchema, { name }));
          return `graph output "${name}" added`;
        }
        case 3: {
          const v = rng.pick([...g.input, ...g.output]);
          v.name = rng.chance(0.7) ? rng.pick(valueNames(g)) : '';
          return `graph input/output renamed "${v.name}"`;
        }
        default: {
          const t = rng.pick(g.initializer.length > 0 ? g.initializer : tensorsOf(g));
          if (t === undefined) return 'no initializer';
          t.name = rng.pick(valueNames(g));
          return `initializer renamed "${t.name}"`;
        }
      }
    },
  ],
];

/** Apply 1-3 structural edits. Returns the new bytes, or undefined when the input is no ModelProto. */
export function mutateProto(rng: Rng, input: Uint8Array): { bytes: Uint8Array; what: string } | undefined {
  let m: ModelProto;
  try {
    m = fromBinary(ModelProtoSchema, input);
  } catch {
    return undefined;
  }
  const g = m.graph;
  if (!g || g.node.length === 0) return undefined;
  const what: string[] = [];
  const n = rng.weighted([
    [6, 1],
    [3, 2],
    [1, 3],
  ] as const);
  for (let k = 0; k < n && g.node.length > 0; k++) {
    try {
      what.push(rng.weighted(EDITS)(rng, m, g));
    } catch {
      what.push('(an edit found nothing to change)'); // e.g. no node with inputs
    }
  }
  return { bytes: toBinary(ModelProtoSchema, m), what: `proto: ${what.join('; ')}` };
}
