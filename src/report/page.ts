/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) that a
 * user reads before shipping a quantized model.
 *
 *   summary ─ per-head heatmaps of scale and of expected SQNR for Q, K and V (layers × heads),
 *   each with its table ─ the worst heads ─ the sites and how they were matched ─ the Softmax
 *   nodes not taken and why ─ (with `ctc eval --report`) perplexity, KL, top-1 and KL by position
 */
import type { CompileRecord, DynamicEdgeRecord, EdgeRecord } from './record.js';
import { headError } from './error.js';
import { escapeXml as x, heatmap, legend, lineChart } from './svg.js';

export interface EvalSummary {
  readonly reference: string;
  readonly candidate: string;
  readonly perplexity?: { readonly reference: number; readonly candidate: number };
  readonly kl?: number;
  readonly top1Agreement?: number;
  /** Mean KL(reference || candidate) at each position, over the sets. */
  readonly klByPosition?: readonly number[];
}

/** One colour scale for every SQNR map: 0 dB (noise as loud as the signal) to 50 dB (int8 and better). */
const SQNR_DOMAIN: [number, number] = [0, 50];

const num = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4));
const db = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} dB` : '∞');

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}.sub{color:#555;margin:0 0 16px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dl.summary dt{color:#555}dl.summary dd{margin:0}
.maps{display:flex;flex-wrap:wrap;gap:18px}.map{break-inside:avoid}
svg text{font:10px system-ui,sans-serif;fill:#333}.legend{font-size:11px;color:#555;display:inline-flex;align-items:center;gap:4px}
.wide{overflow-x:auto}table{border-collapse:collapse;font-size:12px;margin:6px 0}.wide td{overflow-wrap:anywhere;max-width:24em}th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f4f4f6}
td.l,th.l{text-align:left}details{margin:4px 0 10px}summary{cursor:pointer;color:#3b528b}
.note{color:#555;font-size:12px}.bad{color:#b00020;font-weight:600}
@media print{body{max-width:none;padding:0}details{display:block}details>*{display:block}summary{display:none}h2{break-after:avoid}}
`;

function table(head: readonly string[], rows: readonly (readonly string[])[], left = 1): string {
  const th = head.map((h, i) => `<th${i < left ? ' class="l"' : ''} scope="col">${x(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${i < left ? ' class="l"' : ''}>${x(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

interface HeadFigure {
  readonly edge: EdgeRecord;
  readonly head: number;
  readonly amax: number;
  readonly sqnrDb: number;
}

function figures(edges: readonly EdgeRecord[]): HeadFigure[] {
  return edges.flatMap((e) =>
    e.scale.map((s, h) => ({ edge: e, head: h, amax: Math.max(Math.abs(e.min[h]!), Math.abs(e.max[h]!)), sqnrDb: headError(e.min[h]!, e.max[h]!, s, e.zeroPoint[h]!, e.args).sqnrDb })),
  );
}

/** Row label of an edge: its layer, or its site when two sites share a layer (cross-attention). */
function rowLabel(e: EdgeRecord, all: readonly EdgeRecord[]): string {
  const sameLayer = all.filter((o) => o.role === e.role && o.layer === e.layer);
  return sameLayer.length > 1 ? `${e.layer} ${e.site.split('.').slice(-1)[0]}` : String(e.layer);
}

function roleSection(role: 'q' | 'k' | 'v', edges: readonly EdgeRecord[], figs: readonly HeadFigure[]): string {
  const mine = edges.filter((e) => e.role === role).sort((a, b) => a.layer - b.layer || a.site.localeCompare(b.site));
  if (mine.length === 0) return '';
  const name = { q: 'Query (Q)', k: 'Key (K) — the key cache', v: 'Value (V) — the value cache' }[role];
  const rows = (f: (e: EdgeRecord, h: number) => number) => mine.map((e) => ({ label: rowLabel(e, mine), values: e.scale.map((_, h) => f(e, h)) }));
  const sq = (e: EdgeRecord, h: number): number => figs.find((g) => g.edge === e && g.head === h)!.sqnrDb;
  const scaleRows = rows((e, h) => e.scale[h]!);
  const sqRows = rows(sq);
  const range = (rs: typeof scaleRows, fmt: (v: number) => string): string => {
    const v = rs.flatMap((r) => r.values).filter(Number.isFinite);
    return legend(fmt(Math.min(...v)), fmt(Math.max(...v)));
  };
  const strategy = [...new Set(mine.map((e) => `${e.args.type}${e.args.num_bits} ${e.args.strategy}, ${e.args.observer}`))].join('; ');
  const tableRows = mine.flatMap((e) => e.scale.map((s, h) => [e.site, String(h), num(e.min[h]!), num(e.max[h]!), num(s), String(e.zeroPoint[h]), db(sq(e, h))]));
  return `<section class="role" id="role-${role}"><h3>${x(name)} <span class="note">${x(strategy)}</span></h3>
<div class="maps"><div class="map"><div class="note">scale per head (log colour) ${range(scaleRows, num)}</div>${heatmap({ id: `scale-${role}`, title: `${role} scale`, rows: scaleRows, format: num, log: true })}</div>
<div class="map"><div class="note">expected SQNR per head (darker is worse) ${legend(db(SQNR_DOMAIN[0]), db(SQNR_DOMAIN[1]))}</div>${heatmap({ id: `sqnr-${role}`, title: `${role} SQNR`, rows: sqRows, format: db, domain: SQNR_DOMAIN })}</div></div>
<details><summary>the ${tableRows.length} values as a table</summary>${table(['site', 'head', 'min', 'max', 'scale', 'zero point', 'SQNR'], tableRows)}</details></section>`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${x(title)}</title><style>${CSS}</style></head>
<body>${body}</body></html>
`;
}

/** The page of `ctc eval --report` when the candidate's folder has no compile.json. */
export function renderEvalReport(e: EvalSummary): string {
  return page(`ctc eval: ${e.candidate}`, `<h1>ctc eval</h1><p class="sub">${x(e.candidate)} against ${x(e.reference)}</p>${evalSection(e)}`);
}

/** What the dynamic edges are, e.g. "int4 asymmetric, group 16". */
function dynamicKinds(edges: readonly DynamicEdgeRecord[]): string {
  return [...new Set(edges.map((e) => `${e.args.type}${e.args.num_bits} ${e.args.symmetric ? 'symmetric' : 'asymmetric'}, group ${e.args.group_size}`))].join('; ');
}

export function renderReport(r: CompileRecord, evaluation?: EvalSummary): string {
  const figs = figures(r.edges);
  const worst = [...figs].sort((a, b) => a.sqnrDb - b.sqnrDb || a.edge.layer - b.edge.layer).slice(0, 10);
  const summary: [string, string][] = [
    ['model', r.model],
    ['rule set', r.rules],
    ['attention sites', `${r.sites.length} found, ${r.quantizedSites.length} quantized, ${r.refused.length} Softmax / attention node(s) not taken`],
    ["quantized edges", `${r.edges.length} calibrated (${figs.length} scale(s))${(r.dynamicEdges ?? []).length > 0 ? `, ${r.dynamicEdges!.length} dynamic (${dynamicKinds(r.dynamicEdges!)}: scales computed in the model per token, head and group, none stored)` : ''}`],
    [
      'calibration',
      r.calibration.from === 'none'
        ? 'none: every scale is dynamic'
        : r.calibration.from === 'stats'
          ? `${r.calibration.sets} set(s), from saved statistics`
          : `${r.calibration.sets} set(s) of ${r.calibration.from === 'random' ? 'random inputs (no real calibration)' : 'calibration data'}`,
    ],
    ['opset', r.opset.before === r.opset.after ? `${r.opset.after} (unchanged)` : `${r.opset.before} → ${r.opset.after}`],
    ['output files', r.files.join(', ')],
  ];
  const sites = table(
    ['site', 'layer', 'pattern', 'variant', 'kind', 'heads / kv / dim', 'Q', 'K', 'V', 'cache'],
    r.sites.map((s) => [
      s.name,
      String(s.layer),
      s.pattern,
      Object.entries(s.variant).map(([k, v]) => `${k}=${v}`).join(' '),
      s.kind,
      `${s.numHeads} / ${s.numKvHeads} / ${s.headDim}`,
      s.q ? `${s.q.tensor} (${s.q.layout})` : '-',
      `${s.k.tensor} (${s.k.layout})${s.k.past ? ` + past ${s.k.past.tensor}` : ''}`,
      `${s.v.tensor} (${s.v.layout})${s.v.past ? ` + past ${s.v.past.tensor}` : ''}`,
      s.cache ? `${s.cache.pastKey} → ${s.cache.presentKey}` : '-',
    ]),
    4,
  );
  const refused = r.refused.length === 0 ? '<p>Every Softmax and attention node is a quantized site.</p>' : table(['op', 'node', 'why it was not taken'], r.refused.map((f) => [f.op, f.node || '(unnamed)', f.reason]), 3);
  const evalPart = evaluation ? evalSection(evaluation) : '';
  return page(`ctc report: ${r.model}, ${r.rules}`, `<h1>ctc report</h1><p class="sub">${x(r.model)} quantized with rule set <b>${x(r.rules)}</b></p>
<h2>Summary</h2><dl class="summary">${summary.map(([k, v]) => `<dt>${x(k)}</dt><dd>${x(v)}</dd>`).join('')}</dl>
${evalPart}
<h2>Scales and expected error per head</h2>
<p class="note">Layers down, heads across. SQNR is the signal-to-quantization-noise ratio the chosen scale gives values spread evenly over the head's calibrated range [min, max] (the statistics keep no histogram): int8 with a fitting scale gives about 48 dB, float8 e4m3 about 30 dB, int4 about 24 dB. A head far below its neighbours has a scale that does not fit it: a per-tensor scale set by another head's outliers, or an mse clip cutting into its range.</p>
${(['q', 'k', 'v'] as const).map((role) => roleSection(role, r.edges, figs)).join('\n')}
<h2>Worst heads</h2>${table(['site', 'role', 'head', 'amax', 'scale', 'SQNR'], worst.map((w) => [w.edge.site, w.edge.role, String(w.head), num(w.amax), num(w.edge.scale[w.head]!), db(w.sqnrDb)]))}
<h2>Attention sites</h2><div class="wide">${sites}</div>
<h2>Not taken</h2>${refused}
<p class="note">Written by ctc from ${x(r.model)}'s compile.json; the same compile gives the same page, byte for byte.</p>
`);
}

function evalSection(e: EvalSummary): string {
  const rows: [string, string][] = [
    ['reference', e.reference],
    ['candidate', e.candidate],
  ];
  if (e.perplexity) rows.push(['perplexity', `${e.perplexity.reference.toFixed(5)} → ${e.perplexity.candidate.toFixed(5)} (${(((e.perplexity.candidate - e.perplexity.reference) / e.perplexity.reference) * 100).toFixed(3)} %)`]);
  if (e.kl !== undefined) rows.push(['KL(reference ‖ candidate)', `${num(e.kl)} nats per token`]);
  if (e.top1Agreement !== undefined) rows.push(['top-1 agreement', `${(e.top1Agreement * 100).toFixed(2)} %`]);
  const chart = e.klByPosition && e.klByPosition.length > 1 ? `<h3>KL by position</h3>${lineChart('kl-by-position', 'KL by position', e.klByPosition, num)}<details><summary>as a table</summary>${table(['position', 'KL'], e.klByPosition.map((v, i) => [String(i), num(v)]))}</details>` : '';
  return `<h2>Evaluation</h2><dl class="summary">${rows.map(([k, v]) => `<dt>${x(k)}</dt><dd>${x(v)}</dd>`).join('')}</dl>${chart}`;
}
