/** The CLI's plain-text tables, against hand-written layouts. */
import { describe, expect, it } from 'vitest';
import { table, wrapWords } from '../../src/cli/table.js';

describe('table', () => {
  it('aligns columns two spaces apart, a rule of dashes under the header, no trailing spaces', () => {
    expect(table(['a', 'long header'], [['xyz', 'v'], ['', 'w']])).toBe('a    long header\n---  -----------\nxyz  v\n     w');
  });
  it('with a width, wraps the last column at spaces, continuation lines under it', () => {
    expect(table(['a', 'text'], [['x', 'one two three four']], 10)).toBe('a  text\n-  -------\nx  one two\n   three\n   four');
  });
  it('leaves a word longer than the room whole, and a row that fits on one line', () => {
    expect(table(['k', 'v'], [['x', 'abcdefghij ab'], ['y', 'ab cd']], 8)).toBe('k  v\n-  -----\nx  abcdefghij\n   ab\ny  ab cd');
  });
});

describe('wrapWords', () => {
  it('fills each line up to the room exactly', () => {
    expect(wrapWords('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrapWords('aa bb cc dd', 4)).toEqual(['aa', 'bb', 'cc', 'dd']);
    expect(wrapWords('aa bb', Infinity)).toEqual(['aa bb']);
  });
});
