/**
 * ctc report: the error figure against its closed form, the page's cells against scales.json,
 * byte-identical pages from identical compiles, and the page in a real browser (Debian's
 * chromium, driven by playwright-core): drawn, nothing fetched, no console errors.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headError } from '../../src/report/error.js';
import { quantArgs } from '../harness/fixtures.js';
import { ctc } from '../harness/cli.js';
import type { CliResult } from '../harness/cli.js';
import { ROOT, corpusModel } from '../harness/paths.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ctc-report-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('expected quantization error per head', () => {
  const int8 = quantArgs({ num_bits: 8, type: 'int', symmetric: true });
  it('int8 with a fitting scale: uniform noise s²/12 against signal amax²/3, 10·log10(4·127.5²) = 48.13 dB', () => {
    const amax = 3.7;
    const s = amax / 127.5;
    const e = headError(-amax, amax, s, 0, int8);
    expect(e.mse / ((s * s) / 12)).toBeGreaterThan(0.98);
    expect(e.mse / ((s * s) / 12)).toBeLessThan(1.02);
    expect(e.sqnrDb).toBeCloseTo(10 * Math.log10(4 * 127.5 * 127.5), 1);
  });
  it('a head whose range is a tenth of the shared scale loses 20 dB', () => {
    const s = 10 / 127.5;
    expect(headError(-1, 1, s, 0, int8).sqnrDb).toBeCloseTo(10 * Math.log10(4 * 12.75 * 12.75), 0);
  });
  it('a scale that clips half the range is dominated by the clipped values', () => {
    // Values in [-2, 2] with a scale for [-1, 1]: the clipped half has error (|x| - 1), mean of
    // (t)² over t in [0, 1] is 1/3, on half the values: mse ≈ 1/6 (rounding noise is negligible).
    const e = headError(-2, 2, 1 / 127.5, 0, int8);
    expect(e.mse).toBeCloseTo(1 / 6, 2);
  });
  it('int4 asymmetric with its zero point covers [min, max] with 15 steps', () => {
    const a = quantArgs({ num_bits: 4, type: 'int', symmetric: false });
    const s = (3 - -1) / 15;
    const zp = Math.round(-8 - -1 / s);
    const e = headError(-1, 3, s, zp, a);
    expect(e.mse / ((s * s) / 12)).toBeGreaterThan(0.9);
    expect(e.mse / ((s * s) / 12)).toBeLessThan(1.1);
  });
});

/** Values of the rect cells of one heatmap, in document order. */
function cells(html: string, id: string): number[] {
  const svg = new RegExp(`<svg class="heatmap" id="${id}"[\\s\\S]*?</svg>`).exec(html)![0];
  return [...svg.matchAll(/<rect class="cell"[^>]*data-value="([^"]+)"/g)].map((m) => Number(m[1]));
}

describe('ctc compile --report / ctc report', () => {
  const out = join(tmp(), 'llama');
  let compiled: CliResult;
  beforeAll(async () => {
    compiled = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'fp8-head', '--calib-sets', '0-3', '-o', out, '--report', '--quiet');
  });

  it('draws one cell per layer and head, holding the scale scales.json has', () => {
    expect(compiled.code, compiled.stderr).toBe(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const scales = JSON.parse(readFileSync(join(out, 'scales.json'), 'utf8')) as Record<string, { values: number[] }>;
    for (const role of ['q', 'k', 'v']) {
      const expected = [0, 1, 2, 3].flatMap((l) => scales[`model.model.layers.${l}.self_attn.${role}_scale`]!.values);
      // 4 layers × 6 query heads, 4 × 2 kv heads; float32 scales printed as JSON numbers.
      expect(expected.length).toBe(role === 'q' ? 24 : 8);
      expect(cells(html, `scale-${role}`)).toEqual(expected.map((v) => Math.fround(v)));
      expect(cells(html, `sqnr-${role}`).length).toBe(expected.length);
    }
    // Nothing in the page points outside it.
    expect(html).not.toMatch(/<script|<link|src=|@import|url\((?!#)/i);
  });

  it('the same compile gives the same page, byte for byte, and ctc report redraws it', async () => {
    const again = join(tmp(), 'again');
    expect((await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'fp8-head', '--calib-sets', '0-3', '-o', again, '--report', '--quiet')).code).toBe(0);
    expect(readFileSync(join(again, 'report.html')).equals(readFileSync(join(out, 'report.html')))).toBe(true);
    const file = join(tmp(), 'page.html');
    const r = await ctc('report', out, '-o', file);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file).equals(readFileSync(join(out, 'report.html')))).toBe(true);
  });

  it('eval --report adds perplexity, KL, top-1 and KL by position to the compile report', async () => {
    const page = join(tmp(), 'eval.html');
    const r = await ctc('eval', corpusModel('llama-gqa-bytes-ts-eager'), join(out, 'model.onnx'), '--sets', '8-9', '--json', '--report', page);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { perplexity: { reference: number; candidate: number }; kl: number; top1Agreement: number; klByPosition: number[] };
    // Every sequence has the same length, so the mean over positions is the mean over tokens.
    expect(j.klByPosition.reduce((a, b) => a + b, 0) / j.klByPosition.length).toBeCloseTo(j.kl, 12);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain(`${j.perplexity.reference.toFixed(5)} → ${j.perplexity.candidate.toFixed(5)}`);
    expect(html).toContain(`${(j.top1Agreement * 100).toFixed(2)} %`);
    const path = /<svg class="chart" id="kl-by-position"[\s\S]*?<path d="([^"]+)"/.exec(html)![1]!;
    expect(path.split(/[ML]/).filter(Boolean).length).toBe(j.klByPosition.length);
    expect(cells(html, 'scale-q').length).toBe(24);
  });

  it('a folder without compile.json is exit 1 naming it', async () => {
    const r = await ctc('report', tmp());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no compile\.json there/);
  });

  it('opens in Chromium: every cell drawn, no request leaves the page, no console error', async () => {
    const browser = '/usr/bin/chromium';
    if (!existsSync(browser)) {
      // CI installs Debian's chromium (.ci/run); elsewhere the test says plainly what it needs.
      if (process.env.CTC_SKIP_BROWSER === '1') return console.warn('browser test skipped: CTC_SKIP_BROWSER=1 and no /usr/bin/chromium');
      throw new Error('the browser test needs Debian\'s chromium: apt-get install -y chromium (or set CTC_SKIP_BROWSER=1 to skip it)');
    }
    const { chromium } = await import('playwright-core');
    const b = await chromium.launch({ executablePath: browser, args: ['--no-sandbox'] });
    try {
      const page = await b.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      const url = pathToFileURL(join(out, 'report.html')).href;
      await page.goto(url);
      expect(await page.locator('#scale-q rect.cell').count()).toBe(24);
      expect(await page.locator('#scale-k rect.cell').count()).toBe(8);
      expect(await page.locator('svg.heatmap rect.cell').count()).toBe(2 * (24 + 8 + 8));
      const box = await page.locator('#scale-q rect.cell').first().boundingBox();
      expect(box!.width).toBeGreaterThan(10);
      expect(requests).toEqual([url]);
      expect(errors).toEqual([]);
      const artifacts = join(ROOT, '.cache', 'artifacts');
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'report-llama.png'), fullPage: true });
    } finally {
      await b.close();
    }
  });
});
