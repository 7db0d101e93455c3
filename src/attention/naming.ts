/**
 * Site names from the exporter's scopes. The dynamo exporter records module scopes in node
 * metadata (`pkg.torch.onnx.name_scopes`); the TorchScript exporter writes them into node names
 * (`/model/layers.0/self_attn/MatMul_1`). Names are taken as written; nothing is inferred from
 * them beyond the layer number.
 */
import { UsageError } from '../errors.js';
import type { Node } from '../ir/node.js';

const NAME_SCOPES = 'pkg.torch.onnx.name_scopes';

/** The module path of the attention block a node belongs to, or undefined when none is recorded. */
export function scopeOf(n: Node): string | undefined {
  const meta = n.metadataProps.find(([k]) => k === NAME_SCOPES)?.[1];
  if (meta !== undefined) {
    const scopes = [...meta.matchAll(/'([^']*)'/g)].map((m) => m[1]!).filter((s) => s !== '');
    // The last entries are the op itself (e.g. 'scaled_dot_product_attention'); the module path is
    // the longest entry that extends the previous ones.
    let module: string | undefined;
    for (const s of scopes) if (module === undefined || s.startsWith(`${module}.`)) module = s;
    if (module !== undefined) return module;
  }
  if (n.name.startsWith('/') && n.name.lastIndexOf('/') > 0) {
    return n.name.slice(1, n.name.lastIndexOf('/')).split('/').join('.');
  }
  return undefined;
}

/**
 * Site names without a leading `prefix` (an export that wrapped the Hugging Face model names its
 * attention `model.model.layers.0.self_attn`; the checkpoint says `model.layers.0.self_attn`).
 * Every site must start with it: a prefix that does not fit is a user error, not a no-op.
 */
export function stripSitePrefix<T extends { readonly name: string }>(sites: readonly T[], prefix: string): T[] {
  const misfit = sites.find((s) => !s.name.startsWith(prefix) || s.name.length === prefix.length);
  if (misfit !== undefined) {
    throw new UsageError(`--strip-prefix "${prefix}": site ${misfit.name} does not start with it (sites: ${sites.map((s) => s.name).join(', ')})`);
  }
  return sites.map((s) => ({ ...s, name: s.name.slice(prefix.length) }));
}

/** The layer number: the last purely numeric segment of a dotted name (`layers.3` -> 3). */
export function layerOf(name: string): number | undefined {
  const parts = name.split('.');
  for (let i = parts.length - 1; i >= 0; i--) if (/^\d+$/.test(parts[i]!)) return Number(parts[i]);
  return undefined;
}
