/**
 * An operator's identity: its domain ("" for ai.onnx) and type. The IR only needs the shape of
 * it; the names themselves are the one op table, src/onnx/ops.ts.
 */
export interface OpId {
  readonly domain: string;
  readonly opType: string;
}
