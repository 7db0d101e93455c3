/**
 * Where the CLI writes: a command's result to stdout; warnings, progress and error messages to
 * stderr. `ctc` gives main() the process's own streams; a test gives it writers that collect
 * the text, so that it runs the CLI in-process (and mutation testing sees the code it drives).
 */

export interface Writer {
  write(text: string): unknown;
  /** A terminal: progress draws a bar in place instead of printing lines. */
  readonly isTTY?: boolean;
  /** The terminal's width in characters, for --help. */
  readonly columns?: number;
}

export interface Io {
  readonly stdout: Writer;
  readonly stderr: Writer;
}

/** The width text for a terminal is wrapped to (--help, tables): the terminal's, at most 110; 100 when not a terminal. */
export function textWidth(w: Writer): number {
  return Math.min(110, w.columns ?? 100);
}

/** The process's standard streams: what `ctc` run from a shell writes to. */
export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr };
}
