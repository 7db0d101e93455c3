/**
 * Value types. Tensors are modelled (element type and shape, where dims are numbers, symbolic
 * names, or unknown); every other TypeProto kind is carried opaquely for a lossless round trip.
 */
export type Dim = number | string | undefined;

export type ValueType =
  | { readonly kind: 'tensor'; readonly elemType: number; readonly shape: readonly Dim[] | undefined }
  | { readonly kind: 'other'; readonly source: unknown };

export function tensorType(elemType: number, shape?: readonly Dim[]): ValueType {
  return { kind: 'tensor', elemType, shape };
}

/** The static shape of a tensor type, or undefined when unknown. */
export function shapeOf(t: ValueType | undefined): readonly Dim[] | undefined {
  return t?.kind === 'tensor' ? t.shape : undefined;
}

export function elemTypeOf(t: ValueType | undefined): number | undefined {
  return t?.kind === 'tensor' ? t.elemType : undefined;
}
