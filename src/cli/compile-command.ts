/**
 * `ctc compile MODEL --rules NAME|FILE ...`: flags to options, the summary table or --json.
 */
import { basename, dirname, resolve } from 'node:path';
import { compile, compileResultJson } from '../compile.js';
import type { CompileResult } from '../compile.js';
import type { LinkWeights, PlaceMethod } from '../emit/output.js';
import type { CacheIoMode } from '../../passes/cache-io.js';
import type { ExecutionProvider } from '../calibrate/ort.js';
import { UsageError } from '../errors.js';
import { parseSetRange } from '../calibrate/data.js';
import { parseCalibRandom, parseDims, parseThreads } from './options.js';
import type { Writer } from './io.js';
import { makeProgress } from './progress.js';
import { table } from './table.js';

export interface CompileFlags {
  readonly model: string;
  readonly rules: string;
  readonly out?: string | undefined;
  readonly force: boolean;
  readonly calib?: string[] | undefined;
  readonly calibSets?: string | undefined;
  readonly calibRandom?: string | undefined;
  readonly dim?: string[] | undefined;
  readonly observer?: string | undefined;
  readonly ep: string;
  readonly threads?: string | undefined;
  readonly devices?: string | undefined;
  readonly layerwise: boolean;
  readonly maxDeviceMemory?: string | undefined;
  readonly stats?: string[] | undefined;
  readonly saveStats?: string | undefined;
  readonly externalData: boolean;
  readonly linkWeights?: string | undefined;
  readonly report?: boolean | undefined;
  readonly stripPrefix?: string | undefined;
  readonly checkpoint?: string | undefined;
  readonly attentionClass?: string | undefined;
  readonly cacheIo?: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
}

export function parseProviders(ep: string): ExecutionProvider[] {
  const list = ep.split(',').map((s) => s.trim().toLowerCase());
  for (const p of list) if (p !== 'cpu' && p !== 'cuda') throw new UsageError(`--ep ${ep}: execution providers are cpu and cuda (e.g. --ep cuda,cpu to fall back)`);
  return list as ExecutionProvider[];
}

/** --devices 0,1,3: CUDA device ids, each once. */
export function parseDevices(list: string, providers: readonly ExecutionProvider[]): number[] {
  if (!providers.includes('cuda')) throw new UsageError(`--devices ${list}: devices are GPUs of the CUDA provider; add --ep cuda`);
  const ids = list.split(',').map((s) => s.trim());
  if (ids.some((d) => !/^\d{1,3}$/.test(d)) || new Set(ids).size !== ids.length) throw new UsageError(`--devices ${list}: distinct GPU numbers separated by commas, e.g. --devices 0,1`);
  return ids.map(Number);
}

/** 24G, 512M, 1.5T or a number of bytes. */
export function parseBytes(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?)?$/i.exec(text.trim());
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m?.[2] ?? '').charAt(0).toLowerCase()];
  const bytes = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) throw new UsageError(`${option} ${text}: a size such as 24G, 512M or a number of bytes`);
  return Math.floor(bytes);
}

function parseCacheIo(v: string | undefined): CacheIoMode {
  if (v === undefined || v === 'float' || v === 'quantized') return v ?? 'float';
  throw new UsageError(`--cache-io ${v}: float (past/present in float, as the input model) or quantized (in the KV cache's storage type)`);
}

/** Default output folder: <model folder name>-<rules> in the current directory. */
export function defaultOutDir(model: string, rules: string): string {
  const stem = basename(dirname(resolve(model)));
  return `${stem}-${basename(rules).replace(/\.json$/, '')}`;
}

/** The result goes to `out`; warnings and progress to `err`. */
export async function compileCommand(f: CompileFlags, out: (s: string) => void, err: Writer): Promise<void> {
  if (f.stats && (f.calib || f.calibSets || f.calibRandom !== undefined)) throw new UsageError('--stats compiles from saved statistics: it cannot be combined with --calib, --calib-sets or --calib-random');
  // Every number is checked before any work (nothing is read until these pass).
  const calibRandom = f.calibRandom === undefined ? undefined : parseCalibRandom(f.calibRandom);
  if (calibRandom !== undefined && (f.calib || f.calibSets)) throw new UsageError('--calib-random draws random inputs: it cannot be combined with --calib or --calib-sets');
  if (f.dim !== undefined && calibRandom === undefined) throw new UsageError('--dim sizes the random inputs of --calib-random; without --calib-random the data sets give the sizes: drop --dim');
  const dims = parseDims(f.dim);
  const threads = f.threads === undefined ? undefined : parseThreads(f.threads);
  if (f.calibSets !== undefined) parseSetRange(f.calibSets, '--calib-sets');
  const warn = (m: string): void => {
    err.write(`ctc: warning: ${m}\n`);
  };
  const result = await compile({
    model: f.model,
    rules: f.rules,
    outDir: f.out ?? defaultOutDir(f.model, f.rules),
    force: f.force,
    ...(f.calib ? { calib: f.calib } : {}),
    ...(f.calibSets ? { calibSets: f.calibSets } : {}),
    ...(calibRandom !== undefined ? { calibRandom } : {}),
    dims,
    ...(f.observer ? { observer: f.observer } : {}),
    providers: parseProviders(f.ep),
    ...(threads !== undefined ? { threads } : {}),
    ...(f.devices !== undefined ? { devices: parseDevices(f.devices, parseProviders(f.ep)) } : {}),
    layerwise: f.layerwise,
    ...(f.maxDeviceMemory !== undefined ? { maxDeviceMemory: parseBytes('--max-device-memory', f.maxDeviceMemory) } : {}),
    ...(f.stats ? { stats: f.stats } : {}),
    ...(f.saveStats !== undefined ? { saveStats: f.saveStats } : {}),
    externalData: f.externalData,
    ...(f.linkWeights !== undefined ? { linkWeights: f.linkWeights as LinkWeights } : {}),
    report: f.report ?? false,
    ...(f.stripPrefix !== undefined ? { stripPrefix: f.stripPrefix } : {}),
    ...(f.checkpoint !== undefined ? { checkpoint: f.checkpoint } : {}),
    ...(f.attentionClass !== undefined ? { attentionClass: f.attentionClass } : {}),
    cacheIo: parseCacheIo(f.cacheIo),
    progress: makeProgress({ quiet: f.quiet || f.json, stream: err }),
    warn,
  });
  out(f.json ? JSON.stringify(compileResultJson(result), null, 2) : summary(result));
}

const fmt = (x: number): string => x.toPrecision(4);

/** What each way of placing the input's weights means for the user's files. */
const PLACED: Record<PlaceMethod, (source: string) => string> = {
  reflink: (src) => `placed by reflink (a copy-on-write copy of ${src}, sharing its blocks until either changes)`,
  copy: (src) => `placed by copy of ${src}`,
  hardlink: (src) =>
    `placed by hard link to ${src}: both names are one file now, and onnx>=1.17's loader refuses files with several links (remove one, or compile without --link-weights)`,
};

export function summary(r: CompileResult): string {
  const byLayer = new Map<number, Map<string, [number, number]>>();
  const dynamic = new Set<string>();
  for (const e of r.edges) {
    if (e.scaleMin === null || e.scaleMax === null) {
      dynamic.add(`${e.layer}/${e.role}`);
      if (!byLayer.has(e.layer)) byLayer.set(e.layer, new Map());
      continue;
    }
    const roles = byLayer.get(e.layer) ?? new Map<string, [number, number]>();
    const prev = roles.get(e.role);
    roles.set(e.role, prev ? [Math.min(prev[0], e.scaleMin), Math.max(prev[1], e.scaleMax)] : [e.scaleMin, e.scaleMax]);
    byLayer.set(e.layer, roles);
  }
  const cell = (layer: number, role: string, roles: Map<string, [number, number]>): string =>
    roles.has(role) ? `${fmt(roles.get(role)![0])} .. ${fmt(roles.get(role)![1])}` : dynamic.has(`${layer}/${role}`) ? 'dynamic' : '-';
  const rows = [...byLayer].map(([layer, roles]) => [String(layer), ...['q', 'k', 'v'].map((role) => cell(layer, role, roles))]);
  const allDynamic = r.edges.length > 0 && r.edges.every((e) => e.dynamic);
  const lines = [
    `rules ${r.rules}: ${r.quantizedSites} of ${r.sites} attention site(s) quantized, ${r.edges.length} edges, ${r.qdqPairs} QDQ pairs`,
    allDynamic
      ? `no calibration: every scale is dynamic, computed in the model per token and group${r.calibrationSets > 0 ? ` (key means from ${r.calibrationSets} set(s))` : ''}`
      : r.calibrationSeconds > 0
        ? `calibration: ${r.calibrationSets} set(s) in ${r.calibrationSeconds.toFixed(2)} s`
        : `statistics: ${r.calibrationSets} set(s) from saved files`,
    '',
    table(['layer', 'q scale', 'k scale', 'v scale'], rows),
    '',
  ];
  if (r.output) {
    lines.push(`wrote ${r.output.dir}/: ${r.output.files.join(', ')}`);
    for (const x of r.output.external) lines.push(`  external data ${x.location} (${(x.bytes / 2 ** 20).toFixed(1)} MiB) ${PLACED[x.method](x.source)}`);
  }
  if (r.checkpoint) {
    const c = r.checkpoint;
    lines.push(`checkpoint for vLLM: ${c.dir}/ (config.json with its quantization_config, ${c.scaleTensors} scale tensors in ${c.scalesFile}; serve with vllm serve ${c.dir} --kv-cache-dtype fp8)`);
    for (const w of c.weights) lines.push(`  ${w.from} (${(w.bytes / 2 ** 20).toFixed(1)} MiB) placed as ${w.to} by ${w.method}`);
  }
  if (r.statsSaved) lines.push(`statistics saved to ${r.statsSaved}`);
  if (r.cacheIo.mode === 'quantized') {
    const t = r.cacheIo.tensors;
    lines.push(`KV cache I/O quantized: ${t.filter((x) => x.direction === 'input').length} past inputs and ${t.filter((x) => x.direction === 'output').length} present outputs in ${[...new Set(t.map((x) => x.type))].join(', ')} (ctc inspect --json shows the interface)`);
  }
  return lines.join('\n');
}
