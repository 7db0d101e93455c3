/**
 * ModelProto <-> IR. The only module that sees protobuf types (onnx-buf).
 *
 * Lossless by construction: every IR object remembers the message it was decoded from
 * (`source`) and encoding starts from a shallow clone of that message, overwriting only the
 * fields the IR models. Unmodelled fields (training info, sparse initializers, device
 * configurations, unknown fields of newer ONNX versions) come back untouched, and an unchanged
 * model re-encodes byte for byte.
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import type { Message } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import type {
  AttributeProto,
  FunctionProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  StringStringEntryProto,
  TensorProto,
  TypeProto,
  ValueInfoProto,
} from 'onnx-buf';
import type { Attribute, AttributeValue } from '../ir/attribute.js';
import { Graph } from '../ir/graph.js';
import { Model } from '../ir/model.js';
import type { ModelFunction } from '../ir/model.js';
import { Node } from '../ir/node.js';
import { Tensor } from '../ir/tensor.js';
import type { TensorStorage } from '../ir/tensor.js';
import type { Dim, ValueType } from '../ir/types.js';
import { Value } from '../ir/value.js';
import { ModelLoadError } from '../errors.js';
import { DataType, dataTypeInfo, isKnownDataType, rawByteLength } from '../ir/dtypes.js';
import { normalizeDomain } from './ops.js';
import { concatChunks, encodeChunks } from './wire.js';

export { ModelProtoSchema };

/** Resolves an external data `location` to a checked absolute path, or throws. */
export type ExternalResolver = (location: string, tensorName: string) => { path: string; size: number };

export interface DecodeOptions {
  /** Used in error messages. */
  readonly file: string;
  readonly baseDir?: string;
  readonly resolveExternal?: ExternalResolver;
}

// ---------------------------------------------------------------------------------------------
// Decoding

type Scope = { readonly values: Map<string, Value>; readonly parent: Scope | undefined };

function lookup(scope: Scope | undefined, name: string): Value | undefined {
  for (let s = scope; s; s = s.parent) {
    const v = s.values.get(name);
    if (v !== undefined) return v;
  }
  return undefined;
}

class Decoder {
  constructor(private readonly opts: DecodeOptions) {}

  fail(message: string): never {
    throw new ModelLoadError(`${this.opts.file}: ${message}`);
  }

  type(t: TypeProto | undefined, name: string): ValueType | undefined {
    if (t === undefined) return undefined;
    if (t.value.case === 'tensorType') {
      const tt = t.value.value;
      // Every later stage (shapes, sizes, random inputs, interfaces) looks the type up in the table:
      // an element type outside it is the file's error, said here once, not a crash there.
      if (!isKnownDataType(tt.elemType)) this.fail(`value "${name}" has element type ${tt.elemType}, which is not an ONNX data type (see TensorProto.DataType)`);
      const shape: Dim[] | undefined = tt.shape?.dim.map((d) => {
        if (d.value.case !== 'dimValue') return d.value.case === 'dimParam' ? d.value.value : undefined;
        const n = Number(d.value.value);
        // A size JavaScript cannot hold exactly would be written back as another number.
        if (!Number.isSafeInteger(n)) this.fail(`value "${name}" declares a dimension of ${d.value.value}, which no tensor can have`);
        return n;
      });
      return { kind: 'tensor', elemType: tt.elemType, shape };
    }
    return { kind: 'other', source: t };
  }

  valueFromInfo(info: ValueInfoProto, slot: InfoSlot): Value {
    const v = new Value(info.name);
    attachInfo(v, info, slot, this);
    return v;
  }

  tensor(t: TensorProto, where: string): Tensor {
    if (!isKnownDataType(t.dataType) || t.dataType === DataType.UNDEFINED) this.fail(`tensor "${t.name}" (${where}) has unknown data type ${t.dataType}`);
    const dims = t.dims.map(Number);
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) this.fail(`tensor "${t.name}" (${where}) has shape [${t.dims.join(', ')}]; dimensions are whole numbers >= 0`);
    const field = valueField(t.dataType);
    const misplaced = VALUE_FIELDS.filter((f) => f !== field && t[f].length > 0);
    if (misplaced.length > 0) {
      this.fail(`tensor "${t.name}" (${where}) is ${dataTypeInfo(t.dataType).name} but has values in ${misplaced.map(protoName).join(', ')}; they belong in ${protoName(field)} or raw_data`);
    }
    let storage: TensorStorage;
    if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
      const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
      const location = entries.get('location');
      if (location === undefined) this.fail(`tensor "${t.name}" is marked external but has no location`);
      if (this.opts.resolveExternal === undefined) this.fail(`tensor "${t.name}" lives in external data "${location}", which needs the model's folder (load it from a file)`);
      const { path, size } = this.opts.resolveExternal(location, t.name);
      const offset = Number(entries.get('offset') ?? '0');
      const lengthText = entries.get('length');
      const length = lengthText === undefined ? size - offset : Number(lengthText);
      if (!Number.isFinite(offset) || !Number.isFinite(length) || offset < 0 || length < 0) {
        this.fail(`tensor "${t.name}" has an invalid external offset/length (${entries.get('offset')}, ${lengthText})`);
      }
      if (offset + length > size) {
        this.fail(`external data file "${location}" is ${size} bytes, too short for tensor "${t.name}" (needs ${offset + length})`);
      }
      // Exactly the shape's bytes, as for raw_data: a short file region would be read past its
      // end, a long one would carry another tensor's bytes into this one.
      if (t.dataType === DataType.STRING) this.fail(`tensor "${t.name}" (${where}) is a string tensor in external data; strings belong in string_data`);
      const need = rawByteLength(t.dataType as DataType, dims.reduce((a, b) => a * b, 1));
      if (lengthText !== undefined ? length !== need : length < need) {
        this.fail(`tensor "${t.name}" (${where}) has ${length} bytes in external data "${location}", but its shape [${dims.join(', ')}] needs ${need}`);
      }
      storage = { kind: 'external', path, location, offset, length: need };
    } else if (t.rawData.byteLength > 0 || hasOwn(t, 'rawData')) {
      if (t.dataType === DataType.STRING) this.fail(`tensor "${t.name}" (${where}) is a string tensor with raw_data; strings belong in string_data`);
      const count = dims.reduce((a, b) => a * b, 1);
      const need = rawByteLength(t.dataType as DataType, count);
      if (t.rawData.byteLength !== need) {
        this.fail(`tensor "${t.name}" (${where}) has ${t.rawData.byteLength} bytes of raw data, but its shape [${dims.join(', ')}] needs ${need}`);
      }
      storage = { kind: 'raw', bytes: t.rawData };
    } else {
      // The typed field must hold exactly the shape's values (a short or long one would be
      // read past its end or silently padded with zeros).
      const values = t[field];
      const count = dims.reduce((a, b) => a * b, 1);
      const need = fieldEntries(t.dataType, count);
      if (values.length !== need) {
        this.fail(`tensor "${t.name}" (${where}) has ${values.length} value(s) in ${protoName(field)}, but its shape [${dims.join(', ')}] needs ${need}`);
      }
      storage = field === 'stringData' ? { kind: 'strings', values: t.stringData } : { kind: 'fields', values: values as readonly (number | bigint)[] };
    }
    const tensor = new Tensor(t.name, t.dataType as Tensor['dataType'], dims, storage);
    tensor.docString = t.docString;
    tensor.source = t;
    return tensor;
  }

  attribute(a: AttributeProto, graphOf: (g: GraphProto) => Graph): Attribute {
    let value: AttributeValue;
    switch (a.type) {
      case AT.FLOAT:
        value = { kind: 'float', value: a.f };
        break;
      case AT.INT:
        value = { kind: 'int', value: a.i };
        break;
      case AT.STRING:
        value = { kind: 'string', value: a.s };
        break;
      case AT.TENSOR:
        if (a.t === undefined) this.fail(`attribute "${a.name}" is a tensor attribute without a tensor`);
        value = { kind: 'tensor', value: this.tensor(a.t, `attribute ${a.name}`) };
        break;
      case AT.GRAPH:
        if (a.g === undefined) this.fail(`attribute "${a.name}" is a graph attribute without a graph`);
        value = { kind: 'graph', value: graphOf(a.g) };
        break;
      case AT.FLOATS:
        value = { kind: 'floats', value: a.floats };
        break;
      case AT.INTS:
        value = { kind: 'ints', value: a.ints };
        break;
      case AT.STRINGS:
        value = { kind: 'strings', value: a.strings };
        break;
      case AT.TENSORS:
        value = { kind: 'tensors', value: a.tensors.map((t) => this.tensor(t, `attribute ${a.name}`)) };
        break;
      case AT.GRAPHS:
        value = { kind: 'graphs', value: a.graphs.map(graphOf) };
        break;
      default:
        value = { kind: 'opaque', value: a };
    }
    return { name: a.name, value, source: { proto: a, value } satisfies AttributeSource };
  }

  graph(gp: GraphProto, parentScope: Scope | undefined, parentGraph: Graph | undefined, role: string): Graph {
    const g = new Graph(gp.name, parentGraph);
    g.docString = gp.docString;
    g.metadataProps = gp.metadataProps.map((p) => [p.key, p.value]);
    g.source = gp;
    const scope: Scope = { values: new Map(), parent: parentScope };
    const define = (v: Value, what: string): void => {
      if (v.name === '') return;
      if (scope.values.has(v.name)) this.fail(`${role}: "${v.name}" has two producers (the second is ${what})`);
      scope.values.set(v.name, v);
    };
    for (const info of gp.input) {
      const v = this.valueFromInfo(info, 'input');
      g.addInput(v);
      define(v, 'a graph input');
    }
    for (const tp of gp.initializer) {
      const tensor = this.tensor(tp, 'initializer');
      // In scope so far: graph inputs and earlier initializers (which have a tensor already).
      const asInput = scope.values.get(tp.name);
      if (asInput !== undefined && asInput.initializer === undefined) {
        // IR < 4 lists initializers among the inputs too: the same value, with a default.
        g.addInitializer(asInput, tensor);
      } else {
        const v = new Value(tp.name);
        g.addInitializer(v, tensor);
        define(v, 'an initializer');
      }
    }
    // Outputs first, so that a node may refer to a value produced later (an unsorted graph) and
    // a cycle is reported by verification rather than as a missing value.
    const outputsOf = gp.node.map((np, i) =>
      np.output.map((name) => {
        const v = new Value(name);
        define(v, `output ${name} of ${np.opType} node "${np.name || `#${i}`}"`);
        return v;
      }),
    );
    gp.node.forEach((np, i) => {
      const inputs = np.input.map((name, k) => {
        if (name === '') return undefined;
        const v = lookup(scope, name);
        if (v === undefined) this.fail(`${role}: input ${k} of ${np.opType} node "${np.name || `#${i}`}" refers to "${name}", which no node, input or initializer defines`);
        return v;
      });
      const attrs = np.attribute.map((a) => this.attribute(a, (sub) => this.graph(sub, scope, g, `${role} > ${np.opType} "${np.name}" attribute ${a.name}`)));
      const node = new Node({ domain: normalizeDomain(np.domain), opType: np.opType }, inputs, outputsOf[i]!, attrs, np.name);
      node.overload = np.overload;
      node.docString = np.docString;
      node.metadataProps = np.metadataProps.map((p) => [p.key, p.value]);
      node.source = np;
      g.appendNode(node);
    });
    for (const info of gp.output) {
      const v = lookup(scope, info.name);
      if (v === undefined) this.fail(`${role}: graph output "${info.name}" is not produced by any node, input or initializer`);
      g.outputs.push(v);
      attachInfo(v, info, 'output', this);
    }
    for (const info of gp.valueInfo) {
      const v = lookup(scope, info.name);
      if (v === undefined) {
        // value_info for a name nothing defines: kept as written, harmless.
        g.valueInfo.push(this.valueFromInfo(info, 'valueInfo'));
      } else {
        attachInfo(v, info, 'valueInfo', this);
        g.valueInfo.push(v);
      }
    }
    return g;
  }

  func(fp: FunctionProto): ModelFunction {
    // A function body is decoded as a graph whose inputs are the formal inputs.
    const scope: Scope = { values: new Map(), parent: undefined };
    const body = new Graph(fp.name);
    for (const name of fp.input) {
      const v = new Value(name);
      body.addInput(v);
      scope.values.set(name, v);
    }
    const outputsOf = fp.node.map((np) =>
      np.output.map((name) => {
        const v = new Value(name);
        if (name !== '') scope.values.set(name, v);
        return v;
      }),
    );
    fp.node.forEach((np, i) => {
      // Function nodes may refer to attributes and outer names that are bound at call time:
      // unresolved names become fresh unbound values.
      const inputs = np.input.map((name) => {
        if (name === '') return undefined;
        let v = scope.values.get(name);
        if (v === undefined) {
          v = new Value(name);
          scope.values.set(name, v);
        }
        return v;
      });
      const attrs = np.attribute.map((a) => this.attribute(a, (sub) => this.graph(sub, scope, body, `function ${fp.name}`)));
      const node = new Node({ domain: normalizeDomain(np.domain), opType: np.opType }, inputs, outputsOf[i]!, attrs, np.name);
      node.source = np;
      body.appendNode(node);
    });
    for (const name of fp.output) {
      const v = scope.values.get(name);
      if (v !== undefined) body.outputs.push(v);
    }
    const opsetImports = new Map(fp.opsetImport.map((o) => [normalizeDomain(o.domain), Number(o.version)]));
    return { name: fp.name, domain: fp.domain, overload: fp.overload, inputs: fp.input, outputs: fp.output, opsetImports, body, source: fp };
  }
}

type InfoSlot = 'input' | 'output' | 'valueInfo';

/**
 * What a Value's `source` holds: the ValueInfoProto of each slot it was listed in (a value can
 * be a graph output and have a value_info entry), and the type the IR decoded from them. While
 * `value.type` is still that object, each slot re-encodes as it was.
 */
interface ValueInfoSource {
  readonly slots: Partial<Record<InfoSlot, ValueInfoProto>>;
  type: ValueType | undefined;
}
interface AttributeSource {
  readonly proto: AttributeProto;
  readonly value: AttributeValue;
}

function attachInfo(v: Value, info: ValueInfoProto, slot: InfoSlot, d: Decoder): void {
  const src = (v.source as ValueInfoSource | undefined) ?? { slots: {}, type: undefined };
  v.source = src;
  src.slots[slot] = info;
  if (v.type === undefined && info.type !== undefined) {
    v.type = d.type(info.type, info.name);
    src.type = v.type;
  }
  if (v.docString === '' && v.metadataProps.length === 0) {
    v.docString = info.docString;
    v.metadataProps = info.metadataProps.map((p) => [p.key, p.value]);
  }
}

/** The repeated fields of a TensorProto that hold values when raw_data does not. */
const VALUE_FIELDS = ['floatData', 'int32Data', 'int64Data', 'doubleData', 'uint64Data', 'stringData'] as const;
type ValueField = (typeof VALUE_FIELDS)[number];
const protoName = (f: ValueField): string => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Which field holds a data type's values (onnx.proto's comments on each field). */
function valueField(dataType: DataType): ValueField {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return 'floatData';
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return 'doubleData';
    case DataType.INT64:
      return 'int64Data';
    case DataType.UINT32:
    case DataType.UINT64:
      return 'uint64Data';
    case DataType.STRING:
      return 'stringData';
    default:
      return 'int32Data'; // every type of 16 bits or less, as its bit pattern
  }
}

/** Entries of that field `count` elements take: two per complex, sub-byte types packed per entry. */
function fieldEntries(dataType: DataType, count: number): number {
  if (dataType === DataType.COMPLEX64 || dataType === DataType.COMPLEX128) return 2 * count;
  return dataTypeInfo(dataType).bits < 8 && dataType !== DataType.STRING ? rawByteLength(dataType, count) : count;
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

export function decodeModel(bytes: Uint8Array, opts: DecodeOptions): Model {
  let mp: ModelProto;
  try {
    mp = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (e) {
    throw new ModelLoadError(`${opts.file}: not an ONNX model (the protobuf does not parse: ${(e as Error).message})`);
  }
  if (mp.graph === undefined || mp.irVersion <= 0n) {
    throw new ModelLoadError(`${opts.file}: not an ONNX model (no ${mp.graph === undefined ? 'graph' : 'IR version'} in it)`);
  }
  if ((mp.$unknown?.length ?? 0) > 0 && mp.opsetImport.length === 0) {
    throw new ModelLoadError(`${opts.file}: not an ONNX model (unrecognised fields and no opset import)`);
  }
  const d = new Decoder(opts);
  const graph = d.graph(mp.graph, undefined, undefined, 'main graph');
  const opsets = new Map<string, number>();
  for (const o of mp.opsetImport) opsets.set(normalizeDomain(o.domain), Number(o.version));
  const model = new Model(graph, Number(mp.irVersion), opsets);
  model.producerName = mp.producerName;
  model.producerVersion = mp.producerVersion;
  model.domain = mp.domain;
  model.modelVersion = mp.modelVersion;
  model.docString = mp.docString;
  model.metadataProps = mp.metadataProps.map((p) => [p.key, p.value]);
  model.functions.push(...mp.functions.map((f) => d.func(f)));
  model.baseDir = opts.baseDir;
  model.source = mp;
  return model;
}

// ---------------------------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /**
   * Move tensors of at least `threshold` bytes that are inline now into one external data file.
   * `location` is relative to the output model's folder.
   */
  readonly externalize?: { readonly location: string; readonly threshold: number };
  /**
   * Where existing external tensors point in the output: by default, their current location.
   */
  readonly relocateExternal?: (location: string) => string;
}

export interface Encoded {
  /** The model file's bytes, as chunks (large tensors are views, not copies). */
  readonly chunks: Uint8Array[];
  readonly size: number;
  /** Chunks of the new external data file, when `externalize` moved tensors into it. */
  readonly external?: { readonly location: string; readonly chunks: Uint8Array[]; readonly size: number };
}

/** Shallow clone of a message: keeps own properties (presence), $typeName and $unknown. */
function cloneMessage<T extends Message>(m: T): T {
  return Object.assign(Object.create(Object.getPrototypeOf(m) as object) as T, m);
}

function setField<T extends object, K extends keyof T>(m: T, k: K, v: T[K], dflt: T[K]): void {
  if (m[k] === v) return;
  if (!hasOwn(m, k as string) && v === dflt) return;
  m[k] = v;
}

function entries(pairs: readonly [string, string][], source: readonly StringStringEntryProto[]): StringStringEntryProto[] {
  if (pairs.length === source.length && pairs.every(([k, v], i) => source[i]!.key === k && source[i]!.value === v)) return source as StringStringEntryProto[];
  return pairs.map(([key, value]) => create(StringStringEntryProtoSchema, { key, value }));
}

class Encoder {
  private externalChunks: Uint8Array[] = [];
  private externalSize = 0;

  constructor(private readonly opts: EncodeOptions) {}

  externalResult(): Encoded['external'] {
    if (this.opts.externalize === undefined || this.externalChunks.length === 0) return undefined;
    return { location: this.opts.externalize.location, chunks: this.externalChunks, size: this.externalSize };
  }

  type(t: ValueType | undefined): TypeProto | undefined {
    if (t === undefined) return undefined;
    if (t.kind === 'other') return t.source as TypeProto;
    const tensorType = create(TypeProto_TensorSchema, { elemType: t.elemType });
    if (t.shape !== undefined) {
      tensorType.shape = create(TensorShapeProtoSchema, {
        dim: t.shape.map((d) =>
          create(TensorShapeProto_DimensionSchema, {
            value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : typeof d === 'string' ? { case: 'dimParam', value: d } : { case: undefined },
          }),
        ),
      });
    }
    return create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } });
  }

  valueInfo(v: Value, slot: InfoSlot): ValueInfoProto {
    const src = v.source as ValueInfoSource | undefined;
    const proto = src?.slots[slot];
    if (proto !== undefined && proto.name === v.name && v.type === src!.type) return proto;
    const info = proto ? cloneMessage(proto) : create(ValueInfoProtoSchema);
    info.name = v.name;
    const type = this.type(v.type);
    if (type !== undefined) info.type = type;
    if (proto === undefined) {
      setField(info, 'docString', v.docString, '');
      info.metadataProps = entries(v.metadataProps, info.metadataProps);
    }
    return info;
  }

  tensor(t: Tensor): TensorProto {
    const src = t.source as TensorProto | undefined;
    const ext = this.opts.externalize;
    const relocate = this.opts.relocateExternal;
    if (src !== undefined && src.name === t.name) {
      if (t.storage.kind === 'external' && relocate !== undefined) {
        const location = relocate(t.storage.location);
        if (location !== t.storage.location) {
          const out = cloneMessage(src);
          out.externalData = src.externalData.map((e) => (e.key === 'location' ? create(StringStringEntryProtoSchema, { key: 'location', value: location }) : e));
          return out;
        }
      }
      if (!(ext && t.storage.kind === 'raw' && t.storage.bytes.byteLength >= ext.threshold)) return src;
    }
    const out = src ? cloneMessage(src) : create(TensorProtoSchema);
    out.name = t.name;
    out.dataType = t.dataType;
    out.dims = t.dims.map((d) => BigInt(d));
    setField(out, 'docString', t.docString, '');
    if (t.storage.kind === 'external') {
      const location = relocate ? relocate(t.storage.location) : t.storage.location;
      out.dataLocation = TensorProto_DataLocation.EXTERNAL;
      out.externalData = [
        create(StringStringEntryProtoSchema, { key: 'location', value: location }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(t.storage.offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(t.storage.length) }),
      ];
      return out;
    }
    const bytes = t.bytes();
    if (ext !== undefined && bytes.byteLength >= ext.threshold) {
      // Align each tensor to 4096 bytes, as the external data spec recommends.
      const pad = (4096 - (this.externalSize % 4096)) % 4096;
      if (pad > 0) {
        this.externalChunks.push(new Uint8Array(pad));
        this.externalSize += pad;
      }
      const offset = this.externalSize;
      this.externalChunks.push(bytes);
      this.externalSize += bytes.byteLength;
      out.rawData = new Uint8Array(0) as TensorProto['rawData'];
      delete (out as Partial<TensorProto>).rawData;
      out.dataLocation = TensorProto_DataLocation.EXTERNAL;
      out.externalData = [
        create(StringStringEntryProtoSchema, { key: 'location', value: ext.location }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(bytes.byteLength) }),
      ];
      return out;
    }
    out.rawData = bytes as TensorProto['rawData'];
    out.floatData = [];
    out.int32Data = [];
    out.int64Data = [];
    out.doubleData = [];
    out.uint64Data = [];
    return out;
  }

  attribute(a: Attribute): AttributeProto {
    const src = a.source as AttributeSource | undefined;
    const v = a.value;
    if (src !== undefined && src.proto.name === a.name) {
      // Graphs and tensors are encoded from the IR anyway, so the message is reused whenever the
      // kind is the same (a model's clone holds copies of them); scalars only while unchanged.
      if (v.kind !== src.value.kind) {
        /* replaced by another kind: a new message below */
      } else if (v.kind === 'graph') return Object.assign(cloneMessage(src.proto), { g: this.graph(v.value) });
      else if (v.kind === 'graphs') return Object.assign(cloneMessage(src.proto), { graphs: v.value.map((g) => this.graph(g)) });
      else if (v.kind === 'tensor') return Object.assign(cloneMessage(src.proto), { t: this.tensor(v.value) });
      else if (v.kind === 'tensors') return Object.assign(cloneMessage(src.proto), { tensors: v.value.map((t) => this.tensor(t)) });
      else if (src.value === v) return src.proto;
    }
    const p = create(AttributeProtoSchema, { name: a.name });
    switch (v.kind) {
      case 'float':
        p.type = AT.FLOAT;
        p.f = v.value;
        break;
      case 'int':
        p.type = AT.INT;
        p.i = v.value;
        break;
      case 'string':
        p.type = AT.STRING;
        p.s = v.value as AttributeProto['s'];
        break;
      case 'tensor':
        p.type = AT.TENSOR;
        p.t = this.tensor(v.value);
        break;
      case 'graph':
        p.type = AT.GRAPH;
        p.g = this.graph(v.value);
        break;
      case 'floats':
        p.type = AT.FLOATS;
        p.floats = [...v.value];
        break;
      case 'ints':
        p.type = AT.INTS;
        p.ints = [...v.value];
        break;
      case 'strings':
        p.type = AT.STRINGS;
        p.strings = [...v.value] as AttributeProto['strings'];
        break;
      case 'tensors':
        p.type = AT.TENSORS;
        p.tensors = v.value.map((t) => this.tensor(t));
        break;
      case 'graphs':
        p.type = AT.GRAPHS;
        p.graphs = v.value.map((g) => this.graph(g));
        break;
      case 'opaque':
        return v.value as AttributeProto;
    }
    return p;
  }

  node(n: Node): NodeProto {
    const src = n.source as NodeProto | undefined;
    const p = src ? cloneMessage(src) : create(NodeProtoSchema);
    p.input = n.inputs.map((v) => v?.name ?? '');
    p.output = n.outputs.map((v) => v.name);
    setField(p, 'name', n.name, '');
    setField(p, 'opType', n.op.opType, '');
    if (!(src && normalizeDomain(src.domain) === n.op.domain)) setField(p, 'domain', n.op.domain, '');
    setField(p, 'overload', n.overload, '');
    setField(p, 'docString', n.docString, '');
    p.metadataProps = entries(n.metadataProps, p.metadataProps);
    p.attribute = [...n.attributes.values()].map((a) => this.attribute(a));
    return p;
  }

  graph(g: Graph): GraphProto {
    const src = g.source as GraphProto | undefined;
    const p = src ? cloneMessage(src) : create(GraphProtoSchema);
    setField(p, 'name', g.name, '');
    setField(p, 'docString', g.docString, '');
    p.metadataProps = entries(g.metadataProps, p.metadataProps);
    p.node = g.nodes.map((n) => this.node(n));
    p.initializer = g.initializers.map((v) => {
      const t = v.initializer!;
      if (t.name !== v.name) t.name = v.name;
      return this.tensor(t);
    });
    p.input = g.inputs.map((v) => this.valueInfo(v, 'input'));
    p.output = g.outputs.map((v) => this.valueInfo(v, 'output'));
    p.valueInfo = g.valueInfo.map((v) => this.valueInfo(v, 'valueInfo'));
    return p;
  }

  func(f: ModelFunction): FunctionProto {
    const p = cloneMessage(f.source as FunctionProto);
    p.node = f.body.nodes.map((n) => this.node(n));
    p.opsetImport = opsetImportsOf(f.opsetImports, p.opsetImport);
    return p;
  }

  model(m: Model): ModelProto {
    const src = m.source as ModelProto | undefined;
    const p = src ? cloneMessage(src) : create(ModelProtoSchema);
    setField(p, 'irVersion', BigInt(m.irVersion), 0n);
    p.opsetImport = opsetImportsOf(m.opsetImports, src?.opsetImport ?? []);
    setField(p, 'producerName', m.producerName, '');
    setField(p, 'producerVersion', m.producerVersion, '');
    setField(p, 'domain', m.domain, '');
    setField(p, 'modelVersion', m.modelVersion, 0n);
    setField(p, 'docString', m.docString, '');
    p.metadataProps = entries(m.metadataProps, p.metadataProps);
    p.graph = this.graph(m.graph);
    p.functions = m.functions.map((f) => this.func(f));
    return p;
  }
}

/** Opset imports as written: the decoded entries while they still hold (byte-identical), else rebuilt in map order. */
function opsetImportsOf(opsets: ReadonlyMap<string, number>, source: readonly OperatorSetIdProto[]): OperatorSetIdProto[] {
  const same = source.length === opsets.size && source.every((o) => opsets.get(normalizeDomain(o.domain)) === Number(o.version));
  if (same) return [...source];
  const byDomain = new Map(source.map((o) => [normalizeDomain(o.domain), o]));
  return [...opsets].map(([domain, version]) => {
    const o = byDomain.get(domain);
    if (o !== undefined && Number(o.version) === version) return o;
    return create(OperatorSetIdProtoSchema, { domain: o?.domain ?? domain, version: BigInt(version) });
  });
}

export function encodeModel(model: Model, opts: EncodeOptions = {}): Encoded {
  const e = new Encoder(opts);
  const proto = e.model(model);
  const { chunks, size } = encodeChunks(ModelProtoSchema, proto);
  const external = e.externalResult();
  return external ? { chunks, size, external } : { chunks, size };
}

export interface GraphAdditions {
  readonly nodes: readonly Node[];
  readonly outputs: readonly Value[];
  readonly initializers: readonly Value[];
}

/**
 * The bytes of a model file with nodes, graph outputs and initializers added to its main graph,
 * without re-encoding the model: a protobuf parser merges a message field that appears twice,
 * appending to its repeated fields, so `base ++ ModelProto{graph{node, output, initializer}}`
 * parses as the base model with the additions at the end of each list. The additions may only
 * refer to names of the base model and to each other.
 */
export function appendToGraph(base: Uint8Array, added: GraphAdditions): Uint8Array {
  const e = new Encoder({});
  const graph = create(GraphProtoSchema, {
    node: added.nodes.map((n) => e.node(n)),
    output: added.outputs.map((v) => e.valueInfo(v, 'output')),
    initializer: added.initializers.map((v) => e.tensor(v.initializer!)),
  });
  const delta = encodeChunks(ModelProtoSchema, create(ModelProtoSchema, { graph }));
  return concatChunks([base, ...delta.chunks], base.byteLength + delta.size);
}

/** Decode a standalone TensorProto (the ONNX test-data `input_N.pb` files). */
export function decodeTensorFile(bytes: Uint8Array, file: string): Tensor {
  let tp: TensorProto;
  try {
    tp = fromBinary(TensorProtoSchema, bytes);
  } catch (e) {
    throw new ModelLoadError(`${file}: not an ONNX TensorProto (${(e as Error).message})`);
  }
  return new Decoder({ file }).tensor(tp, file);
}

export function encodeTensorFile(t: Tensor): Uint8Array {
  const e = new Encoder({});
  const { chunks, size } = encodeChunks(TensorProtoSchema, e.tensor(t));
  return concatChunks(chunks, size);
}
