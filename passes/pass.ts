/**
 * The pass contract. A pass is a named rewrite of a model:
 *
 *   { name, inPlace, run(model, ...args) → { modified, ... } }
 *
 * `inPlace` says whether run() rewrites the model it is given (true) or leaves it as it was and
 * returns what it built (false). `modified` is true exactly when something changed: the model
 * itself (in place) or the returned model differs from the input. A pass with nothing to do
 * says false.
 *
 * A PassPipeline runs passes one after another and remembers their names, so that an error
 * thrown inside a pass says where in the pipeline it happened:
 *
 *   "insert-qdq failed after insert-observers, upgrade-opset: <the pass's own message>"
 */
import type { Model } from '../src/ir/model.js';

export interface PassResult {
  readonly modified: boolean;
}

export interface Pass<Args extends readonly unknown[], Result extends PassResult> {
  /** The pass's file name in passes/, as errors name it. */
  readonly name: string;
  readonly inPlace: boolean;
  run(model: Model, ...args: Args): Result;
}

export class PassPipeline {
  private readonly ran: string[] = [];

  /** The passes that completed, in order. */
  get history(): readonly string[] {
    return this.ran;
  }

  run<Args extends readonly unknown[], Result extends PassResult>(pass: Pass<Args, Result>, model: Model, ...args: Args): Result {
    let result: Result;
    try {
      result = pass.run(model, ...args);
    } catch (e) {
      throw withHistory(e, pass.name, this.ran);
    }
    this.ran.push(pass.name);
    return result;
  }
}

/**
 * The error, its message prefixed with the pass and the passes before it. The error object
 * itself is kept (not wrapped in a new one) so that its class, and with it the exit code (a
 * CtcError is the user's to fix, anything else an internal bug), stays what the pass threw.
 */
function withHistory(e: unknown, pass: string, before: readonly string[]): Error {
  const prefix = `${pass} failed ${before.length === 0 ? 'as the first pass' : `after ${before.join(', ')}`}: `;
  if (!(e instanceof Error)) return new Error(`${prefix}${String(e)}`);
  e.message = `${prefix}${e.message}`;
  return e;
}
