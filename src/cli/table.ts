/**
 * A plain-text table with aligned columns. Given a `width`, the last column's text is wrapped at
 * spaces so that no line is longer, its continuation lines starting under that column (a single
 * word longer than the room is left whole); without one, every row is one line.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], width?: number): string {
  const last = header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const indent = widths.slice(0, last).reduce((a, w) => a + w + 2, 0);
  const room = width === undefined ? Infinity : Math.max(width - indent, header[last]!.length);
  widths[last] = Math.min(widths[last]!, room);
  const line = (cells: readonly string[]): string => {
    const lead = cells.slice(0, last).map((c, i) => `${c.padEnd(widths[i]!)}  `).join('');
    return wrapWords(cells[last] ?? '', room)
      .map((part, k) => `${k === 0 ? lead : ' '.repeat(indent)}${part}`.trimEnd())
      .join('\n');
  };
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `text` in lines of at most `room` characters, broken at spaces (a longer word keeps a line of its own). */
export function wrapWords(text: string, room: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > room) {
      lines.push(current);
      current = word;
    } else current = current === '' ? word : `${current} ${word}`;
  }
  lines.push(current);
  return lines;
}
