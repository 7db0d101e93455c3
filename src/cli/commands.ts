/**
 * The command table: each command's flags and the function that runs it.
 */
import type { Argv } from 'yargs';

export type Fail = (e: unknown) => void;

export function registerCommands(parser: Argv, fail: Fail): void {
  void parser;
  void fail;
}
