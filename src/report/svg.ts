/**
 * Inline SVG for the report: a layers × heads heatmap and a small line chart. Plain strings, no
 * scripts: hover shows each value through <title>, and every figure has an accessible table
 * beside it in the page.
 */

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Viridis-like ramp (dark blue → green → yellow), t in [0, 1]. */
const RAMP: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export function rampColor(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 1)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const c = RAMP[i]!.map((a, k) => Math.round(a + (RAMP[i + 1]![k]! - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapOptions {
  readonly id: string;
  readonly title: string;
  /** Row labels (layers) and the values, rows × heads. */
  readonly rows: readonly { readonly label: string; readonly values: readonly number[] }[];
  readonly format: (v: number) => string;
  /** Colour on a log scale (scales, ranges) rather than linear (dB). */
  readonly log?: boolean;
  /** Fixed colour domain (e.g. 0–50 dB), so that a tenth of a dB does not look like a cliff. */
  readonly domain?: readonly [number, number];
}

const CELL = 22;
const LABEL = 64;

export function heatmap(o: HeatmapOptions): string {
  const heads = Math.max(...o.rows.map((r) => r.values.length));
  const all = o.rows.flatMap((r) => r.values).filter((v) => Number.isFinite(v) && (!o.log || v > 0));
  const f = (v: number): number => (o.log ? Math.log10(v) : v);
  const lo = o.domain ? f(o.domain[0]) : all.length ? Math.min(...all.map(f)) : 0;
  const hi = o.domain ? f(o.domain[1]) : all.length ? Math.max(...all.map(f)) : 1;
  const t = (v: number): number => (hi === lo ? 0.5 : (f(v) - lo) / (hi - lo));
  const width = LABEL + heads * CELL + 8;
  const height = 18 + o.rows.length * CELL + 4;
  const cells = o.rows.flatMap((r, y) =>
    r.values.map(
      (v, h) =>
        `<rect class="cell" data-layer="${escapeXml(r.label)}" data-head="${h}" data-value="${v}" x="${LABEL + h * CELL}" y="${18 + y * CELL}" width="${CELL - 2}" height="${CELL - 2}" fill="${rampColor(t(v))}"><title>${escapeXml(`${o.title}, layer ${r.label}, head ${h}: ${o.format(v)}`)}</title></rect>`,
    ),
  );
  const headLabels = Array.from({ length: heads }, (_, h) => `<text x="${LABEL + h * CELL + CELL / 2 - 1}" y="12" text-anchor="middle">${h}</text>`);
  const rowLabels = o.rows.map((r, y) => `<text x="${LABEL - 6}" y="${18 + y * CELL + CELL / 2 + 3}" text-anchor="end">${escapeXml(r.label)}</text>`);
  return `<svg class="heatmap" id="${escapeXml(o.id)}" role="img" aria-label="${escapeXml(o.title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${headLabels.join('')}${rowLabels.join('')}${cells.join('')}</svg>`;
}

/** A legend bar for a heatmap's range. */
export function legend(lo: string, hi: string): string {
  const stops = RAMP.map((_, i) => `<stop offset="${(i / (RAMP.length - 1)) * 100}%" stop-color="${rampColor(i / (RAMP.length - 1))}"/>`).join('');
  return `<span class="legend">${escapeXml(lo)} <svg width="120" height="10" aria-hidden="true" xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g">${stops}</linearGradient></defs><rect width="120" height="10" fill="url(#g)"/></svg> ${escapeXml(hi)}</span>`;
}

/** A small line chart of y over positions 0..n-1. */
export function lineChart(id: string, title: string, ys: readonly number[], format: (v: number) => string): string {
  const W = 560;
  const H = 140;
  const max = Math.max(...ys, Number.MIN_VALUE);
  const x = (i: number): number => 40 + (i / Math.max(1, ys.length - 1)) * (W - 50);
  const y = (v: number): number => H - 20 - (v / max) * (H - 30);
  const path = ys.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return `<svg class="chart" id="${escapeXml(id)}" role="img" aria-label="${escapeXml(title)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg"><line x1="40" y1="${H - 20}" x2="${W - 10}" y2="${H - 20}" stroke="#888"/><line x1="40" y1="10" x2="40" y2="${H - 20}" stroke="#888"/><text x="36" y="14" text-anchor="end">${escapeXml(format(max))}</text><text x="36" y="${H - 20}" text-anchor="end">0</text><text x="${W - 10}" y="${H - 6}" text-anchor="end">position ${ys.length - 1}</text><path d="${path}" fill="none" stroke="#3b528b" stroke-width="1.5"/></svg>`;
}
