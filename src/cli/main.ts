#!/usr/bin/env node
/**
 * The ctc command line: the composition root. Flags are parsed here; every command is a
 * function in its own file that takes parsed options and an output sink.
 *
 * Exit codes: 0 success, 1 a usage or input error (the message says what to change), 2 an
 * internal failure. Stack traces only with --debug.
 *
 * main() returns the exit code and writes only to the Io it is given: tests run it in-process.
 * What concerns the whole process (setting its exit status) is done by the entry point at the
 * bottom, which runs only when this file is the program.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CtcError, UsageError } from '../errors.js';
import { VERSION } from './version.js';
import { limitAddressSpace } from './address-space.js';
import { registerCommands } from './commands.js';
import type { Io } from './io.js';
import { processIo, textWidth } from './io.js';

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const debug = argv.includes('--debug');
  let failure: unknown;
  const parser = yargs(argv)
    .scriptName('ctc')
    .usage(
      'ctc: quantize the attention and KV cache of ONNX transformer models with one scale per head,\n' +
        'the way compressed-tensors (llm-compressor, vLLM) does, and write a model any ONNX runtime loads.\n\n' +
        'Usage: ctc <command> [options]',
    )
    .version(VERSION)
    .option('debug', { type: 'boolean', describe: 'Show stack traces on errors', global: true })
    .strict()
    .demandCommand(1, 'Name a command: ctc inspect | compile | eval | rules (ctc --help lists them)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .alias('V', 'version')
    .wrap(textWidth(io.stdout))
    .epilogue('Exit codes: 0 success, 1 bad input or usage (the message says what to change), 2 internal error.')
    .fail((msg, err) => {
      // Stop here: a usage error must not reach the command's handler.
      throw err ?? new UsageError(`${msg} (ctc --help, or ctc <command> --help)`);
    })
    .exitProcess(false);
  registerCommands(parser, io, (e) => {
    failure = e;
  });
  try {
    // With a callback, yargs hands over what it would print (--help, --version) instead of
    // writing to the console.
    await parser.parseAsync(argv, {}, (_err, _argv, output) => {
      if (output) io.stdout.write(`${output}\n`);
    });
  } catch (e) {
    failure ??= e;
  }
  return failure === undefined ? 0 : report(failure, debug, io);
}

function report(e: unknown, debug: boolean, io: Io): number {
  if (e instanceof CtcError) {
    io.stderr.write(`ctc: ${e.message}\n`);
    if (debug && e.stack) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
  const err = e as Error;
  io.stderr.write(`ctc: internal error: ${err?.message ?? String(e)}\n`);
  if (debug && err?.stack) io.stderr.write(`${err.stack}\n`);
  else io.stderr.write('(run again with --debug for the stack trace, and please report it)\n');
  return 2;
}

// Run when executed directly (not when imported by tests).
function invokedDirectly(): boolean {
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1] ?? '')).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  // The process-wide net against allocations of terabytes (address-space.ts); never in a process that imports main().
  limitAddressSpace(hideBin(process.argv));
  // A reader that stops early (ctc rules | head -3) closes the pipe: what is left to print is
  // dropped and the command ends as it would have, instead of dying on an unhandled EPIPE.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  main(hideBin(process.argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`ctc: internal error: ${String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
