/**
 * The change table against the ONNX changelog (onnx-changelog-versions.json, extracted from
 * onnx/onnx docs/Changelog.md): every version of a default-domain op from 8 to 21 that follows
 * an earlier version has exactly one entry, and every entry is such a version. The one
 * deliberate difference: Upsample-10 (deprecated, meaning Resize-10) is converted where Resize-11
 * is reached, so its entry sits at 11.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_OPSET } from '../../passes/upgrade-opset.js';
import { OPSET_CHANGES } from '../../passes/upgrade-opset/changes.js';
import { FIRST_VERSION } from '../../passes/upgrade-opset/known-ops.js';

const changelog = JSON.parse(readFileSync(join(import.meta.dirname, 'onnx-changelog-versions.json'), 'utf8')) as { versions: Record<string, number[]> };

describe('opset change table', () => {
  it('has one entry per changelog version change from opset 8 to 21, and no other', () => {
    const expected = new Set<string>();
    for (const [op, versions] of Object.entries(changelog.versions)) {
      versions.forEach((v, i) => {
        if (i > 0 && v > MIN_OPSET && v <= 21) expected.add(`${op}-${v}`);
      });
    }
    expected.delete('Upsample-10');
    expected.add('Upsample-11');
    const entries = OPSET_CHANGES.map((c) => `${c.op}-${c.since}`);
    expect(entries.length).toBe(new Set(entries).size);
    expect([...new Set(entries)].sort()).toEqual([...expected].sort());
  });

  it('knows every default-domain op up to 21 by the version that introduced it', () => {
    const expected = Object.entries(changelog.versions).map(([op, versions]) => [op, versions[0]]);
    expect([...FIRST_VERSION].sort()).toEqual(expected.sort());
  });
});
