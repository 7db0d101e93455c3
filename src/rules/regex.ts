/**
 * `re:` targets in linear time. compressed-tensors matches them with Python's `re.match`: from
 * the start of the name, not necessarily to its end. A backtracking engine (JavaScript's RegExp,
 * Python's re) takes exponential time on patterns like `(.+)+z$`, so ctc matches with RE2's
 * automata (re2js, a pure-JavaScript port of RE2): time linear in the name's length, whatever
 * the pattern. RE2 has Python's syntax except the features that need backtracking —
 * backreferences (`\1`) and lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) — which are refused with
 * the reason; nothing in a module name needs them.
 */
import { RE2JS } from 're2js';

export interface TargetRegex {
  /** True when the pattern matches a prefix of `name` (Python's re.match). */
  matches(name: string): boolean;
}

/** Compile a `re:` pattern (without the prefix), or say why it cannot be matched in linear time. */
export function compileTargetRegex(pattern: string): TargetRegex | { error: string } {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const msg = (e as Error).message.replace(/^error parsing regexp: /, '');
    const backtracking = /\\[1-9]|\(\?[=!]|\(\?<[=!]/.test(pattern);
    return {
      error: backtracking
        ? `${msg}: backreferences and lookaround need a backtracking engine, which can take exponential time; ctc matches targets in linear time (RE2 syntax), so write the target without them`
        : msg,
    };
  }
  return { matches: (name) => re.matcher(name).lookingAt() };
}
