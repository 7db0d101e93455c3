/**
 * The onnxruntime-node adapter: sessions with the options calibration and evaluation need
 * (optimization `disabled` or `basic` there, so QDQ is measured as written; decoding and the
 * runtime tests use every level), execution-provider selection with an explained CUDA failure,
 * and conversion between IR tensors and onnxruntime tensors.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { CalibrationError } from '../errors.js';
import { DataType, dataTypeInfo, decodeFloat16 } from '../ir/dtypes.js';
import { Tensor } from '../ir/tensor.js';

export type ExecutionProvider = 'cpu' | 'cuda';

/** onnxruntime's graph optimization levels, in order; `all` is its default. */
export const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type OptimizationLevel = (typeof OPTIMIZATION_LEVELS)[number];

export interface SessionOptions {
  /** Providers in order of preference, e.g. ['cuda', 'cpu']. */
  readonly providers?: readonly ExecutionProvider[];
  readonly intraOpThreads?: number;
  readonly optimization?: OptimizationLevel;
  /**
   * For a model given as bytes: the folder its external data locations are relative to
   * (onnxruntime's session.model_external_initializers_file_folder_path), so no file is written.
   */
  readonly externalDataDir?: string;
  /** The GPU a CUDA session runs on (onnxruntime's device_id; default 0). */
  readonly deviceId?: number;
  /** Called with a warning when a preferred provider could not be used. */
  readonly warn?: (message: string) => void;
}

export const CUDA_HELP =
  'the CUDA execution provider for onnxruntime-node is an opt-in install: reinstall with ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1.30.0 on a machine with CUDA 12 and cuDNN 9 ' +
  'on the library path (the npm registry alone cannot supply those libraries); or use --ep cpu';

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly provider: ExecutionProvider;
  run(feeds: Record<string, ort.Tensor>, fetches?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/** Create a session on a model (bytes or a path), trying the providers in order. */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
  const providers = opts.providers ?? ['cpu'];
  let lastError: unknown;
  for (const [i, provider] of providers.entries()) {
    try {
      if (provider === 'cuda') float32OnCuda();
      const options: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: opts.deviceId ?? 0 } : provider],
        graphOptimizationLevel: opts.optimization ?? 'basic',
        intraOpNumThreads: opts.intraOpThreads ?? availableParallelism(),
        // Failures surface as exceptions with the same text; the native log would only repeat them.
        logSeverityLevel: 4,
        ...(opts.externalDataDir !== undefined ? { extra: { session: { model_external_initializers_file_folder_path: opts.externalDataDir } } } : {}),
      };
      const s =
        typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        provider,
        run: async (feeds, fetches) => (fetches ? s.run(feeds, [...fetches]) : s.run(feeds)) as Promise<Record<string, ort.Tensor>>,
        release: () => s.release(),
      };
    } catch (e) {
      lastError = e;
      const msg = (e as Error).message;
      const isProviderFailure = provider !== 'cpu' && /shared library|provider|backend/i.test(msg);
      if (!isProviderFailure) throw new CalibrationError(`onnxruntime could not load the model: ${msg}`);
      if (i < providers.length - 1) {
        opts.warn?.(`execution provider ${provider} is not available (${firstLine(msg)}); falling back to ${providers[i + 1]}. ${CUDA_HELP}`);
        continue;
      }
      throw new CalibrationError(`execution provider ${provider} could not be loaded (${firstLine(msg)}): ${CUDA_HELP}`);
    }
  }
  throw new CalibrationError(`no execution provider could run the model: ${String(lastError)}`);
}

/**
 * onnxruntime's CUDA provider multiplies float32 matrices in TF32 (10-bit mantissas) by default,
 * which moves calibrated scales by up to ~2e-3 relative from the CPU's. onnxruntime-node passes no
 * provider option but the device id, so TF32 is turned off the way cuBLAS and cuDNN read it: the
 * NVIDIA_TF32_OVERRIDE variable, set before the first CUDA session loads them. A value the user set
 * is kept (NVIDIA_TF32_OVERRIDE=1 trades CPU-equal scales for speed).
 */
function float32OnCuda(): void {
  process.env.NVIDIA_TF32_OVERRIDE ??= '0';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}

const ortTypeOf: Partial<Record<DataType, ort.Tensor.Type>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.INT16]: 'int16',
  [DataType.UINT16]: 'uint16',
  [DataType.INT32]: 'int32',
  [DataType.UINT32]: 'uint32',
  [DataType.INT64]: 'int64',
  [DataType.UINT64]: 'uint64',
  [DataType.BOOL]: 'bool',
  [DataType.STRING]: 'string',
};

/** The typed array onnxruntime-node expects for each numeric tensor type (float16 as raw bits). */
const typedArrayOf: Partial<Record<ort.Tensor.Type, new (b: ArrayBuffer) => ArrayBufferView>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  bool: Uint8Array,
};

/** IR tensor -> onnxruntime tensor (copies, so the typed array is aligned). */
export function toOrtTensor(t: Tensor): ort.Tensor {
  const type = ortTypeOf[t.dataType];
  if (type === undefined) throw new CalibrationError(`tensor ${t.name}: onnxruntime-node cannot take ${dataTypeInfo(t.dataType).name} inputs`);
  const dims = [...t.dims];
  if (t.storage.kind === 'strings') return new ort.Tensor('string', t.storage.values.map((b) => Buffer.from(b).toString('utf8')), dims);
  const raw = t.bytes();
  const copy = new Uint8Array(raw).buffer;
  const Array_ = typedArrayOf[type];
  if (Array_ === undefined) throw new CalibrationError(`tensor ${t.name}: unsupported type ${type}`);
  // The constructor's overloads pair each type literal with its array type; the table does that here.
  return new ort.Tensor(type as 'uint8', new Array_(copy) as Uint8Array, dims);
}

/** The ONNX data type number of an onnxruntime tensor type. */
export function dataTypeOfOrt(type: string): DataType | undefined {
  for (const [k, v] of Object.entries(ortTypeOf)) if (v === type) return Number(k) as DataType;
  return undefined;
}

/** Values of a numeric onnxruntime tensor as float64 numbers (for comparisons and statistics). */
export function ortToFloat64(t: ort.Tensor): Float64Array {
  const d = t.data;
  if (t.type === 'float16') {
    const out = new Float64Array(d.length);
    const u = d as Uint16Array;
    for (let i = 0; i < u.length; i++) out[i] = decodeFloat16(u[i]!);
    return out;
  }
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d, (x) => Number(x));
  if (Array.isArray(d)) throw new CalibrationError('string tensors have no numeric values');
  return Float64Array.from(d as ArrayLike<number>);
}

export { ort };
