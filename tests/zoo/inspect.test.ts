/**
 * Every zoo model: `inspect` finds what its meta.json states (every attention block, heads, kv
 * heads and head size at each site, self/cross kind, the cache linked to past_key_values.N /
 * present.N). Models whose form ctc does not handle yet are listed, with the reason, in
 * tests/zoo/expected-failures.json and must still fail exactly as recorded there: a fix makes
 * this test say which entry to remove.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/paths.js';
import { EXPECTED_FAILURES_FILE, expectedFailures, inspectVerdict, zooModels } from './zoo.js';

const models = zooModels();
const failing = expectedFailures();

describe('zoo: inspect matches meta.json', () => {
  it('the zoo is unpacked and every expected failure names a zoo model', () => {
    expect(models.length).toBe(118);
    const names = new Set(models.map((m) => m.name));
    expect(Object.keys(failing).filter((n) => !names.has(n))).toEqual([]);
  });

  for (const m of models) {
    const known = failing[m.name];
    it(`${m.name}${known?.stage === 'inspect' ? ` (expected to fail: ${known.form})` : ''}`, () => {
      const verdict = inspectVerdict(m);
      if (known?.stage === 'inspect') {
        expect(verdict, `${m.name} no longer fails as ${EXPECTED_FAILURES_FILE} records: if it is fixed, remove its entry`).toBe(known.verdict);
      } else {
        expect(verdict).toBe('ok');
      }
    });
  }
});

describe('zoo: the README table says what the tests find', () => {
  it('a ✔ for every model not expected to fail, the form for every one that is', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('## The export zoo');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const rows = new Map<string, string[]>();
    for (const line of section.split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      if (cells.length === 7 && cells[1] !== 'family' && !cells[1]!.startsWith('---')) rows.set(cells[1]!, cells.slice(3, 6));
    }
    const columns = ['ts17', 'dynamo18', 'dynamo23'];
    for (const m of models) {
      const cell = rows.get(m.family)?.[columns.indexOf(m.name.slice(m.family.length + 1))];
      const known = failing[m.name];
      expect(cell, m.name).toBe(known ? `✘ ctc: ${known.form}` : m.dynamic_shapes ? '✔' : '✔ (static shapes)');
    }
    const exportFailures = [...rows.values()].flat().filter((c) => c === '✘ export').length;
    expect(rows.size * 3 - exportFailures).toBe(models.length);
  });
});
