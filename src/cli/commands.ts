/**
 * The command table: each command's flags and the function that runs it.
 */
import type { Argv } from 'yargs';
import { inspectCommand } from './inspect.js';

export type Fail = (e: unknown) => void;

const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

export function registerCommands(parser: Argv, fail: Fail): void {
  parser.command(
    'inspect <model>',
    'List the attention sites of a model: heads, the edges where Q/K/V QDQ goes, the KV cache',
    (y) =>
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'The ONNX model file' })
        .option('json', { type: 'boolean', default: false, describe: 'Print {"sites": [...]} as JSON' })
        .option('explain', { type: 'boolean', default: false, describe: 'Also list every Softmax and attention op that was not taken, and why' })
        .example('ctc inspect corpus/llama-gqa-bytes-ts-eager/model.onnx', 'A table of the four attention sites'),
    (a) => {
      try {
        inspectCommand({ model: a.model, json: a.json, explain: a.explain }, print);
      } catch (e) {
        fail(e);
      }
    },
  );
}
