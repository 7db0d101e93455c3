/**
 * The command table: each command's flags and the function that runs it.
 */
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { compileCommand } from './compile-command.js';
import { evalCommand } from './eval-command.js';
import { inspectCommand } from './inspect.js';
import type { Io } from './io.js';
import { textWidth } from './io.js';
import { reportCommand } from './report-command.js';
import { rulesCommand } from './rules-command.js';

export type Fail = (e: unknown) => void;

/** Options that take several values; yargs makes an array of any other option given twice. */
const ARRAY_OPTIONS = new Set(['_', 'calib', 'dim', 'stats', 'data']);

/** `-o a -o b` would silently pick one: refuse every single-valued option given more than once. */
function refuseRepeats(args: object): void {
  for (const [name, value] of Object.entries(args)) {
    // yargs also sets each alias (o) and camelCase form (saveStats): report the option's long name once.
    if (!Array.isArray(value) || ARRAY_OPTIONS.has(name) || name.length === 1 || /[A-Z]/.test(name)) continue;
    throw new UsageError(`--${name} was given ${value.length} times (${value.map(String).join(', ')}); it takes one value: give it once`);
  }
}

/** Register the commands on `parser`: results go to io.stdout, warnings and progress to io.stderr. */
export function registerCommands(parser: Argv, io: Io, fail: Fail): void {
  const print = (s: string): void => {
    io.stdout.write(`${s}\n`);
  };
  /** A handler whose errors go to `fail` (which reports them and sets the exit code). */
  const guarded =
    <A>(run: (a: A) => unknown) =>
    async (a: A): Promise<void> => {
      try {
        refuseRepeats(a as object);
        await run(a);
      } catch (e) {
        fail(e);
      }
    };
  parser.command(
    'inspect <model>',
    'List the attention sites of a model: heads, the edges where Q/K/V QDQ goes, the KV cache',
    (y) =>
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'The ONNX model file' })
        .option('json', { type: 'boolean', default: false, describe: 'Print {"sites": [...]} as JSON' })
        .option('explain', { type: 'boolean', default: false, describe: 'Also list every Softmax and attention op that was not taken, and why' })
        .example('ctc inspect corpus/llama-gqa-bytes-ts-eager/model.onnx', 'A table of the four attention sites'),
    guarded((a) => inspectCommand({ model: a.model, json: a.json, explain: a.explain }, print)),
  );
  parser.command(
    'compile <model>',
    'Quantize the attention / KV cache: calibrate per-head scales, write OUTDIR/model.onnx, quantization_config.json, scales.json',
    (y) =>
      y
        .positional('model', { type: 'string', demandOption: true, describe: 'The ONNX model file (never overwritten)' })
        .option('rules', { type: 'string', demandOption: 'name a rule set: --rules fp8-head (ctc rules lists them) or --rules FILE.json', describe: 'A built-in rule set (ctc rules) or a JSON rule file' })
        .option('out', { alias: 'o', type: 'string', describe: 'Output folder [default: <model folder>-<rules> in the current directory]' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace an existing OUTDIR/model.onnx' })
        .option('calib', { type: 'string', array: true, describe: 'Calibration data: a folder of test_data_set_N folders, or one set (repeatable) [default: beside the model]' })
        .option('calib-sets', { type: 'string', describe: 'Which sets, by number: 0-7, 3, 0-3,8' })
        .option('calib-random', { type: 'string', describe: 'Calibrate on N random input sets (a smoke test: random data is no calibration)' })
        .option('dim', { type: 'string', array: true, describe: 'A dynamic dimension for --calib-random: NAME=N (repeatable)' })
        .option('observer', { type: 'string', choices: ['static_minmax', 'minmax', 'memoryless_minmax', 'mse'], describe: "Override the rule set's observer" })
        .option('ep', { type: 'string', default: 'cpu', describe: 'Execution providers: cpu, cuda, or cuda,cpu (fall back with a warning)' })
        .option('threads', { type: 'string', describe: 'onnxruntime intra-op threads [default: all cores]' })
        .option('devices', { type: 'string', describe: 'Spread the calibration sets over these GPUs, one session each (with --ep cuda): 0,1,2,3' })
        .option('layerwise', { type: 'boolean', default: false, describe: "Calibrate one decoder layer at a time: only that layer's weights on the device; the same scales" })
        .option('max-device-memory', { type: 'string', describe: 'Weights a calibration session may hold (e.g. 20G); a larger model is calibrated layer by layer, layers grouped up to this size' })
        .option('stats', { type: 'string', array: true, describe: 'Compile from saved statistics files (merged exactly) without running the model' })
        .option('save-stats', { type: 'string', describe: 'Write the calibration statistics to FILE (mergeable with --stats)' })
        .option('strip-prefix', { type: 'string', describe: 'Remove PREFIX from site names, so scale names match the checkpoint (e.g. "model." when the export wrapped the model)' })
        .option('report', { type: 'boolean', default: false, describe: 'Also write OUTDIR/report.html: per-head scales and expected error, sites (ctc report draws it later too)' })
        .option('checkpoint', { type: 'string', describe: 'The Hugging Face checkpoint the model was exported from (config.json + safetensors): also write OUTDIR/checkpoint/, the checkpoint with the scales, for vLLM' })
        .option('attention-class', { type: 'string', describe: "The transformers attention class (e.g. LlamaAttention) when the checkpoint's architectures do not tell it" })
        .option('external-data', { type: 'boolean', default: false, describe: 'Write the weights to OUTDIR/model.onnx.data (required past protobuf\'s 2 GiB)' })
        .option('link-weights', {
          type: 'string',
          choices: ['hardlink'],
          describe:
            "Hard-link the input's external data files into OUTDIR instead of copying them (the default copies, or reflinks where the disk can). " +
            "The cost: the source AND the output become unloadable by onnx>=1.17's Python loader, which refuses files with several hard links",
        })
        .option('cache-io', { type: 'string', choices: ['float', 'quantized'], default: 'float', describe: 'KV cache inputs/outputs: float (as the model) or quantized (the kv scheme\'s storage type, 4× / 8× smaller)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' })
        .example('ctc compile corpus/llama-gqa-bytes-ts-eager/model.onnx --rules fp8-head -o out', 'FP8 per-head Q/K/V, calibrated on the sets beside the model')
        .example('ctc compile corpus/llama-gqa-bytes-ts-eager/model.onnx --rules fp8-head --checkpoint corpus/llama-gqa-bytes-ts-eager/hf -o out', 'Also out/checkpoint/, for vllm serve out/checkpoint --kv-cache-dtype fp8')
        .example('ctc compile model.onnx --rules int4-kv-head --calib-sets 0-7 --save-stats a.json', 'Calibrate on sets 0-7 and keep the statistics'),
    guarded((a) =>
      compileCommand(
          {
            model: a.model,
            rules: a.rules,
            out: a.out,
            force: a.force,
            calib: a.calib,
            calibSets: a['calib-sets'],
            calibRandom: a['calib-random'],
            dim: a.dim,
            observer: a.observer,
            ep: a.ep,
            threads: a.threads,
            devices: a.devices,
            layerwise: a.layerwise,
            maxDeviceMemory: a['max-device-memory'],
            stats: a.stats,
            saveStats: a['save-stats'],
            externalData: a['external-data'],
            linkWeights: a['link-weights'],
            report: a.report,
            stripPrefix: a['strip-prefix'],
            checkpoint: a.checkpoint,
            attentionClass: a['attention-class'],
            cacheIo: a['cache-io'],
            json: a.json,
            quiet: a.quiet,
          },
        print,
        io.stderr,
      ),
    ),
  );
  parser.command(
    'eval <reference> <candidate>',
    'Run two models on the same data: per-output differences; for causal LMs, perplexity, KL divergence, top-1 agreement',
    (y) =>
      y
        .positional('reference', { type: 'string', demandOption: true, describe: 'The reference (float) model' })
        .positional('candidate', { type: 'string', demandOption: true, describe: 'The model to compare (e.g. OUTDIR/model.onnx)' })
        .option('data', { type: 'string', array: true, describe: 'Data: folders of test_data_set_N [default: beside the reference]' })
        .option('sets', { type: 'string', describe: 'Which sets, by number: 8-15' })
        .option('ep', { type: 'string', default: 'cpu', describe: 'Execution providers: cpu, cuda, cuda,cpu' })
        .option('threads', { type: 'string', describe: 'onnxruntime intra-op threads per model [default: all cores]' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
        .option('report', { type: 'string', describe: "Write an HTML page to FILE: perplexity, KL, top-1 and KL by position (with the candidate folder's compile report when it has compile.json)" })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' })
        .example('ctc eval corpus/llama-gqa-bytes-ts-eager/model.onnx out/model.onnx --sets 8-15', 'Perplexity of both on sets 8-15'),
    guarded((a) => evalCommand({ reference: a.reference, candidate: a.candidate, data: a.data, sets: a.sets, ep: a.ep, threads: a.threads, json: a.json, quiet: a.quiet, report: a.report }, print, io.stderr)),
  );
  parser.command(
    'report <outdir>',
    'Draw OUTDIR/report.html from what ctc compile wrote there: per-head scales and expected error, sites, what was not taken',
    (y) =>
      y
        .positional('outdir', { type: 'string', demandOption: true, describe: 'A folder ctc compile wrote (it holds compile.json)' })
        .option('out', { alias: 'o', type: 'string', describe: 'Write the page here instead of OUTDIR/report.html' })
        .example('ctc report out', 'out/report.html, one self-contained page'),
    guarded((a) => reportCommand(a.outdir, a.out, print)),
  );
  parser.command(
    'rules [name]',
    'List the built-in rule sets, or show one',
    (y) =>
      y
        .positional('name', { type: 'string', describe: 'A rule set name or file (JSON, or a YAML llm-compressor recipe)' })
        .option('print-config', { type: 'boolean', default: false, describe: 'Print the quantization_config the rule set produces (every attention site quantized)' })
        .option('attention-class', { type: 'string', default: 'LlamaAttention', describe: 'The attention class the target "attention" is written as' })
        .example('ctc rules fp8-kv-head --print-config', 'The config a compile with fp8-kv-head writes'),
    guarded((a) => rulesCommand(a.name, print, { printConfig: a['print-config'], attentionClass: a['attention-class'], width: textWidth(io.stdout) })),
  );
}
