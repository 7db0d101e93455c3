/**
 * The quantized edges of a plan: for each site, Q (attention groups only), K and V, each with
 * its tensors (one, or past and new when the op concatenates the cache itself), its heads, and
 * the compressed-tensors name of its scale.
 */
import type { Edge, Site } from '../attention/site.js';
import type { Value } from '../ir/value.js';
import type { QuantizationArgs } from './args.js';

/** What a rule set decided for one site (rules/targets.ts plans it): the args of Q, K and V. */
export interface SitePlan {
  readonly site: Site;
  /** The config group that quantizes Q, K and V, if any. */
  readonly group: string | undefined;
  readonly q: QuantizationArgs | undefined;
  readonly k: QuantizationArgs;
  readonly v: QuantizationArgs;
}

export type Role = 'q' | 'k' | 'v';

export interface QuantEdge {
  readonly site: string;
  readonly layer: number;
  readonly role: Role;
  /** The tensors that get QDQ: the edge, and the op-internal cache's past part if any. */
  readonly tensors: readonly Edge[];
  readonly args: QuantizationArgs;
  readonly heads: number;
  readonly headDim: number;
  /** `<site>.q_scale` / `.k_scale` / `.v_scale`, as compressed-tensors names them. */
  readonly scaleName: string;
  readonly zeroPointName: string;
}

export function quantEdges(plans: readonly SitePlan[]): QuantEdge[] {
  const out: QuantEdge[] = [];
  for (const p of plans) {
    const s = p.site;
    const add = (role: Role, args: QuantizationArgs | undefined, tensors: (Edge | undefined)[], heads: number): void => {
      if (args === undefined) return;
      const ts = tensors.filter((t): t is Edge => t !== undefined);
      if (ts.length === 0) return;
      out.push({ site: s.name, layer: s.layer, role, tensors: ts, args, heads, headDim: s.headDim, scaleName: `${s.name}.${role}_scale`, zeroPointName: `${s.name}.${role}_zero_point` });
    };
    add('q', p.q, [s.q], s.numHeads);
    add('k', p.k, [s.k, s.kPast], s.numKvHeads);
    add('v', p.v, [s.v, s.vPast], s.numKvHeads);
  }
  return out;
}

/** Per-head values laid out for a tensor: [H] on a head axis, or each head's value D times when packed. */
export function perAxisValues(perHead: ArrayLike<number>, edge: Edge, headDim: number): number[] {
  const out: number[] = [];
  for (let h = 0; h < perHead.length; h++) {
    if (edge.layout === 'BSE') for (let d = 0; d < headDim; d++) out.push(perHead[h]!);
    else out.push(perHead[h]!);
  }
  return out;
}

/** The same edges on a copy of the model (Model.clone): each tensor's value replaced by its copy. */
export function carryEdges(edges: readonly QuantEdge[], valueOf: (v: Value) => Value): QuantEdge[] {
  return edges.map((e) => ({ ...e, tensors: e.tensors.map((t) => ({ ...t, value: valueOf(t.value) })) }));
}
