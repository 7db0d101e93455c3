/**
 * What the calibration runner is handed: the observer graph as model bytes, and where in its
 * outputs each statistic is. Building it is compile's job (passes/insert-observers on a clone);
 * the runner only runs it.
 *
 *   observer graph bytes ─ onnxruntime ─▶ outputs ─ Observer (output, offset) ─▶ per-head min/max
 */
export type Statistic = 'min' | 'max' | 'values';

/** One observed statistic: which edge, which of its tensors, and where it is in which output. */
export interface Observer {
  readonly output: string;
  /** min/max: the statistic's heads are output[offset .. offset + heads). */
  readonly offset: number;
  readonly edge: number;
  readonly tensor: number;
  readonly stat: Statistic;
}

export interface ObserverGraph {
  /** A whole model file (the original's bytes with the observers appended). */
  readonly bytes: Uint8Array;
  readonly observers: readonly Observer[];
}
