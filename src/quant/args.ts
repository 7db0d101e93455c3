/**
 * compressed-tensors' QuantizationArgs (the subset attention and the KV cache can take) and
 * what they mean on ONNX: the storage type, its range, and the opset/IR its QDQ needs.
 */
import { DataType, dataTypeInfo, minifloatMax } from '../ir/dtypes.js';

export type Strategy = 'tensor' | 'channel' | 'group' | 'block' | 'token' | 'tensor_group' | 'attn_head';
export type ObserverName = 'static_minmax' | 'minmax' | 'memoryless_minmax' | 'mse';

/** QuantizationArgs as serialized by compressed-tensors (snake_case keys, every field present). */
export interface QuantizationArgs {
  readonly num_bits: number;
  readonly type: 'int' | 'float';
  readonly symmetric: boolean;
  readonly group_size: number | null;
  readonly strategy: Strategy;
  readonly block_structure: readonly number[] | null;
  /** true: scales computed in the graph from each tensor (strategy group); false: calibrated. */
  readonly dynamic: boolean;
  readonly actorder: string | null;
  readonly scale_dtype: string | null;
  readonly zp_dtype: string | null;
  /** null when dynamic: nothing is observed. */
  readonly observer: ObserverName | null;
  readonly observer_kwargs: Readonly<Record<string, number>>;
}

/** The ONNX type QDQ stores values in, for these args. */
export function storageType(a: Pick<QuantizationArgs, 'num_bits' | 'type' | 'symmetric'>): DataType {
  if (a.type === 'float') return DataType.FLOAT8E4M3FN; // validated: 8 bits only
  switch (a.num_bits) {
    case 2:
      return DataType.INT2;
    case 4:
      return DataType.INT4;
    case 8:
      return DataType.INT8;
    case 16:
      return DataType.INT16;
    default:
      throw new RangeError(`no ONNX integer type of ${a.num_bits} bits`);
  }
}

/** [q_min, q_max] as compressed-tensors' calculate_range gives them. */
export function quantRange(a: Pick<QuantizationArgs, 'num_bits' | 'type'>): [number, number] {
  if (a.type === 'float') {
    const max = minifloatMax(DataType.FLOAT8E4M3FN);
    return [-max, max];
  }
  return [-(2 ** (a.num_bits - 1)), 2 ** (a.num_bits - 1) - 1];
}

/** The opset and IR version the QDQ of this storage type needs. */
export function qdqRequirements(t: DataType, perAxis: boolean): { opset: number; irVersion: number } {
  const info = dataTypeInfo(t);
  const opset = Math.max(info.minQdqOpset ?? 10, perAxis ? 13 : 10);
  return { opset, irVersion: Math.max(info.minIrVersion, opset >= 21 ? 10 : opset >= 19 ? 9 : 7) };
}

/** The compressed-tensors preset of observer_kwargs defaults. */
export const OBSERVER_DEFAULTS = {
  averaging_constant: 0.01,
  maxshrink: 0.2,
  grid: 100,
  norm: 2.4,
  patience: 5,
} as const;
