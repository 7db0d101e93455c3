/**
 * The matcher: walks a pattern backwards from a value through producers. Pure: it reads the
 * graph and returns bindings or a failure; it never changes anything.
 *
 * On failure it reports the failure that got furthest (deepest into the pattern), which is the
 * most useful explanation when several alternatives were tried.
 */
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { DataType } from '../ir/dtypes.js';
import { Op, opKey } from '../onnx/ops.js';
import type { NodeCheck, Pattern } from './dsl.js';
import type { ShapeFacts } from '../shapes/static-shapes.js';

export interface Bindings {
  readonly values: ReadonlyMap<string, Value>;
  readonly nodes: ReadonlyMap<string, Node>;
  readonly tags: ReadonlyMap<string, string>;
  /** Every node the match went through, for checks on outside consumers. */
  readonly matched: ReadonlySet<Node>;
}

export type MatchResult =
  | { readonly ok: true; readonly bindings: Bindings }
  | { readonly ok: false; readonly id: string; readonly reason: string; readonly at: Node | Value | undefined; readonly depth: number };

/**
 * The ids of the matcher's own failures; a failing check reports its own id (`refuses`), or
 * 'check-failed' when it has none.
 */
export type StructuralFailure = 'not-produced' | 'wrong-op' | 'wrong-output' | 'input-count' | 'missing-input' | 'not-constant' | 'not-same-value' | 'capture-conflict' | 'no-alternative' | 'check-failed';

interface State {
  values: Map<string, Value>;
  nodes: Map<string, Node>;
  tags: Map<string, string>;
  matched: Set<Node>;
}

type Step = { ok: true; state: State } | { ok: false; id: string; reason: string; at: Node | Value | undefined; depth: number };

const clone = (s: State): State => ({ values: new Map(s.values), nodes: new Map(s.nodes), tags: new Map(s.tags), matched: new Set(s.matched) });

export function matchPattern(pattern: Pattern, value: Value, facts: ShapeFacts): MatchResult {
  const r = step(pattern, value, { values: new Map(), nodes: new Map(), tags: new Map(), matched: new Set() }, facts, 0);
  if (!r.ok) return r;
  return { ok: true, bindings: r.state };
}

function fail(id: string, reason: string, at: Node | Value | undefined, depth: number): Step {
  return { ok: false, id, reason, at, depth };
}

const checkId = (check: { readonly id?: string }): string => check.id ?? ('check-failed' satisfies StructuralFailure);

/** The failure that got further; on a tie the later one, which is a real attempt, not a placeholder. */
function deeper(a: Step, b: Step): Step {
  if (a.ok) return a;
  if (b.ok) return b;
  return b.depth >= a.depth ? b : a;
}

const FLOAT_TYPES: ReadonlySet<number> = new Set([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/**
 * Whether skip() may look through node n: any listed op but Cast, and a Cast only from float to
 * float (a precision change of the activation). A Cast to or from an integer or bool type
 * changes the values, so what lies before it is not the same activation.
 */
function skippable(n: Node, facts: ShapeFacts): boolean {
  if (!n.is(Op.Cast)) return true;
  const from = facts.elemType(n.inputs[0]);
  return FLOAT_TYPES.has(n.intAttr('to', DataType.UNDEFINED)) && (from === undefined || FLOAT_TYPES.has(from));
}

function isTransparent(n: Node, facts: ShapeFacts): boolean {
  if (n.is(Op.Identity)) return true;
  if (n.is(Op.Cast)) {
    const from = facts.elemType(n.inputs[0]);
    return from !== undefined && from === n.intAttr('to');
  }
  return false;
}

function step(p: Pattern, v: Value, s: State, facts: ShapeFacts, depth: number): Step {
  switch (p.kind) {
    case 'any': {
      if (p.check) {
        const why = p.check(v, facts);
        if (why !== undefined) return fail(checkId(p.check), why, v, depth);
      }
      return bind(p.capture, v, s, depth);
    }
    case 'same': {
      const bound = s.values.get(p.capture);
      if (bound !== v) return fail('not-same-value', `expected the same value as ${p.capture} (${bound?.name ?? 'unbound'}), found ${v.name}`, v, depth);
      return { ok: true, state: s };
    }
    case 'const': {
      if (facts.constTensor(v) === undefined && facts.constScalar(v) === undefined) return fail('not-constant', `${v.name} is not a constant`, v, depth);
      if (p.check) {
        const why = p.check(v, facts);
        if (why !== undefined) return fail(checkId(p.check), why, v, depth);
      }
      return bind(p.capture, v, s, depth);
    }
    case 'pass': {
      let cur = v;
      let prod = cur.producer();
      const st = clone(s);
      while (prod !== undefined && isTransparent(prod, facts) && prod.inputs[0] !== undefined) {
        st.matched.add(prod);
        cur = prod.inputs[0];
        prod = cur.producer();
      }
      return step(p.inner, cur, st, facts, depth);
    }
    case 'skip': {
      // Try the longest chain first would be greedy; try shortest first so that an inner
      // pattern that itself starts with one of these ops still gets its chance.
      let best: Step = fail('no-alternative', 'nothing matched', v, depth);
      let cur: Value | undefined = v;
      const st = clone(s);
      for (let i = 0; i <= p.max && cur !== undefined; i++) {
        const r = step(p.inner, cur, clone(st), facts, depth + i);
        if (r.ok) return r;
        best = deeper(best, r);
        const prod: Node | undefined = cur.producer();
        if (prod === undefined || !p.ops.some((o) => prod.is(o)) || !skippable(prod, facts)) break;
        st.matched.add(prod);
        cur = prod.inputs[0];
      }
      return best;
    }
    case 'oneOf': {
      let best: Step = fail('no-alternative', `no alternative of ${p.tag} matched`, v, depth);
      for (const [name, alt] of p.alternatives) {
        const st = clone(s);
        st.tags.set(p.tag, name);
        const r = step(alt, v, st, facts, depth);
        if (r.ok) return r;
        best = deeper(best, r);
      }
      return best;
    }
    case 'node': {
      const n = v.producer();
      if (n === undefined) return fail('not-produced', `${v.name} is ${v.isGraphInput() ? 'a graph input' : v.isInitializer() ? 'an initializer' : 'not produced by a node'}, expected ${p.ops.map(opKey).join(' or ')}`, v, depth);
      if (!p.ops.some((o) => n.is(o))) return fail('wrong-op', `${v.name} comes from ${opKey(n.op)}, expected ${p.ops.map(opKey).join(' or ')}`, n, depth);
      if ((v.outputIndex() ?? 0) !== (p.output ?? 0)) return fail('wrong-output', `${v.name} is output ${v.outputIndex()} of ${n.op.opType}, expected output ${p.output ?? 0}`, n, depth);
      const present = n.inputs.length;
      if (present < p.inputs.length || (!p.extraInputs && n.inputs.slice(p.inputs.length).some((x) => x !== undefined))) {
        return fail('input-count', `${n.op.opType} node ${n.name} has ${present} inputs, expected ${p.inputs.length}`, n, depth);
      }
      for (const check of p.check === undefined ? [] : Array.isArray(p.check) ? p.check : [p.check as NodeCheck]) {
        const why = check(n, facts);
        if (why !== undefined) return fail(checkId(check), why, n, depth + 1);
      }
      const orders = p.commute && p.inputs.length === 2 ? [[0, 1], [1, 0]] : [p.inputs.map((_, i) => i)];
      let best: Step = fail('no-alternative', 'no input order matched', n, depth);
      for (const order of orders) {
        let st = clone(s);
        st.matched.add(n);
        if (p.capture) {
          if (st.nodes.has(p.capture) && st.nodes.get(p.capture) !== n) return fail('capture-conflict', `capture ${p.capture} bound twice`, n, depth);
          st.nodes.set(p.capture, n);
          st.values.set(p.capture, v);
        }
        let r: Step = { ok: true, state: st };
        for (let k = 0; k < p.inputs.length; k++) {
          const input = n.inputs[order[k]!];
          if (input === undefined) {
            r = fail('missing-input', `${n.op.opType} node ${n.name} lacks input ${order[k]}`, n, depth + 1);
            break;
          }
          r = step(p.inputs[k]!, input, st, facts, depth + 1);
          if (!r.ok) break;
          st = r.state;
        }
        if (r.ok) return r;
        best = deeper(best, r);
      }
      return best;
    }
  }
}

function bind(capture: string | undefined, v: Value, s: State, depth: number): Step {
  if (capture === undefined) return { ok: true, state: s };
  const prev = s.values.get(capture);
  if (prev !== undefined && prev !== v) return fail('capture-conflict', `${capture} must be the same value at both places (${prev.name} vs ${v.name})`, v, depth);
  const st = clone(s);
  st.values.set(capture, v);
  return { ok: true, state: st };
}
