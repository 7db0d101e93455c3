/**
 * The layering of ctc, checked by `npm run lint` (part of `npm test`, hence of CI). README's
 * "Layout" draws the same stack. A layer may import itself and the layers below it, never one
 * above: so the folders form no cycle, and nothing but the command line imports the command
 * line. Type-only imports count (a type import is still a dependency of meaning).
 *
 *   src/cli/          the command line                       (top)
 *   src/compile.ts    the pipeline: orchestrates the passes
 *   passes/           upgrade-opset, insert-observers, insert-qdq
 *   src/report/       compile.json and report.html
 *   src/eval/ src/decode/  ctc eval; greedy decoding and the cache interface
 *   src/emit/         quantization_config, scales.json, output
 *   src/calibrate/    runs an observer graph it is handed (never builds one)
 *   src/rules/        rule sets, targets, the plan
 *   src/quant/ src/transform/  QuantizationArgs, scale math, quantized edges; the Hadamard rotation
 *   src/attention/    sites and their patterns
 *   src/pattern/      the pattern DSL and matcher
 *   src/shapes/       static shape facts (what patterns check against)
 *   src/onnx/         serde, model files, the op table
 *   src/ir/           the IR, element types and codecs
 *   src/errors.ts     error classes                          (bottom)
 */
const LAYERS = [
  ['src/errors.ts'],
  ['src/ir/'],
  ['src/onnx/'],
  ['src/shapes/'],
  ['src/pattern/'],
  ['src/attention/'],
  ['src/quant/', 'src/transform/'],
  ['src/rules/'],
  ['src/calibrate/'],
  ['src/emit/'],
  ['src/eval/', 'src/decode/'],
  ['src/report/'],
  ['passes/'],
  ['src/compile.ts'],
  ['src/cli/'],
];

const escape = (p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const anyOf = (paths) => `^(${paths.map(escape).join('|')})`;

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join('+').replace(/\/$/, '')}`,
  comment: `${layer.join(', ')} may not import a layer above it (${LAYERS.slice(i + 1).flat().join(', ')})`,
  severity: 'error',
  from: { path: anyOf(layer) },
  to: { path: anyOf(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'No import cycle between modules (type-only imports inside a folder, such as Node <-> Value, are allowed)',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'sources-not-tests',
      comment: 'The compiler never imports tests, benchmarks or their harness',
      severity: 'error',
      from: { path: '^(src|passes)/' },
      to: { path: '^(tests|bench)/' },
    },
    {
      name: 'every-source-in-a-layer',
      comment: 'A new top-level module of src/ needs a place in LAYERS',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(LAYERS.flat()) },
      to: {},
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.cache)/' },
  },
};
