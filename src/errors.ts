/**
 * Typed errors. A CtcError is the user's to fix (bad input, bad flags): the CLI prints its
 * message and exits with 1. Anything else is an internal failure (exit 2).
 */
export class CtcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The model file cannot be read or is not a valid ONNX model. */
export class ModelLoadError extends CtcError {}

/** The graph breaks an IR invariant (cycle, two producers, dangling reference, ...). */
export class VerifyError extends CtcError {}

/** A rule file or rule set is invalid. */
export class RuleError extends CtcError {}

/** Attention matching found something it cannot interpret safely. */
export class MatchError extends CtcError {}

/** Calibration data or execution failed in a way the user can act on. */
export class CalibrationError extends CtcError {}

/** Command-line usage: a missing argument, a conflicting flag, an output that would overwrite. */
export class UsageError extends CtcError {}
