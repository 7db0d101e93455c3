/**
 * `ctc inspect MODEL [--json] [--explain]`: the attention sites of a model.
 */
import { ATTENTION_PATTERNS } from '../attention/patterns/index.js';
import { findSites, rejectionLabel } from '../attention/find-sites.js';
import type { SiteScan } from '../attention/find-sites.js';
import { siteToJson } from '../attention/site.js';
import type { Site } from '../attention/site.js';
import { loadModel } from '../onnx/model-file.js';
import { cacheInterface } from '../decode/cache-interface.js';
import type { CacheInterfaceJson } from '../decode/cache-interface.js';
import { table } from './table.js';

export interface InspectOptions {
  readonly model: string;
  readonly json: boolean;
  readonly explain: boolean;
}

export function scanModelFile(path: string): SiteScan {
  return findSites(loadModel(path), ATTENTION_PATTERNS);
}

export function inspectCommand(opts: InspectOptions, out: (s: string) => void): void {
  const model = loadModel(opts.model);
  const scan = findSites(model, ATTENTION_PATTERNS);
  if (opts.json) {
    const doc: Record<string, unknown> = { sites: scan.sites.map(siteToJson), cacheInterface: cacheInterface(model, scan.sites) };
    if (opts.explain) doc['notTaken'] = scan.rejected;
    out(JSON.stringify(doc, null, 2));
    return;
  }
  out(renderSites(opts.model, scan.sites));
  const cache = renderCacheInterface(cacheInterface(model, scan.sites));
  if (cache !== undefined) out(`\n${cache}`);
  if (opts.explain) {
    out('');
    if (scan.rejected.length === 0) out('Every Softmax and attention op was taken.');
    else {
      out(`Not taken (${scan.rejected.length}):`);
      for (const r of scan.rejected) out(`  ${rejectionLabel(r)}: ${r.reason}`);
    }
  } else if (scan.rejected.length > 0) {
    out(`\n${scan.rejected.length} Softmax/attention op(s) not taken; --explain says why.`);
  }
}

const cacheText = (s: Site): string => (s.cache ? `${s.cache.pastKey} -> ${s.cache.presentKey ?? '(none)'}` : '-');

export function renderSites(model: string, sites: readonly Site[]): string {
  if (sites.length === 0) return `${model}: no attention site found.`;
  const rows = sites.map((s) => [
    s.name,
    String(s.layer),
    s.pattern,
    s.kind,
    `${s.numHeads}/${s.numKvHeads}/${s.headDim}`,
    s.q ? `${s.q.value.name} (${s.q.layout})` : '-',
    `${s.k.value.name} (${s.k.layout})`,
    cacheText(s),
  ]);
  return `${model}: ${sites.length} attention site(s)\n` + table(['site', 'layer', 'pattern', 'kind', 'heads/kv/dim', 'Q edge', 'K edge', 'cache'], rows);
}

/**
 * The KV cache as the application sees it (the text form of `--json`'s cacheInterface): each
 * past input and present output with its type, shape and, for quantized I/O, the scale and zero
 * point initializers and axis a host dequantizes with; then how to start with an empty cache.
 */
export function renderCacheInterface(c: CacheInterfaceJson): string | undefined {
  if (c.io === 'none') return undefined;
  const shape = (s: CacheInterfaceJson['tensors'][number]['shape']): string => (s === null ? '?' : `[${s.map((d) => d ?? '?').join(', ')}]`);
  const rows = c.tensors.map((t) => [
    t.name,
    t.direction,
    t.type,
    shape(t.shape),
    t.quantization === null ? '-' : `${t.quantization.scale} (zero point ${t.quantization.zeroPoint ?? 'none'}, axis ${t.quantization.axis})`,
  ]);
  const head =
    c.io === 'quantized'
      ? `KV cache interface: quantized I/O (${c.tensors.length} tensors; present is fed back as past unchanged, already in its storage type)`
      : `KV cache interface: float I/O (${c.tensors.length} tensors)`;
  return `${head}\n${table(['tensor', 'direction', 'type', 'shape', 'scale'], rows)}\nEmpty cache: ${c.emptyCache}`;
}
