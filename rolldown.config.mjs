/**
 * The `ctc` program as one file: dist/ctc.js, bundled from tsc's output (dist/src/cli/main.js)
 * with its dependencies. Node then starts it in about 0.4 s instead of 0.75 s, most of which
 * went to resolving and compiling some 90 modules of ours and a few hundred of yargs, yaml,
 * zod and protobuf, one file at a time.
 *
 * onnxruntime-node stays outside: a native addon, loaded from node_modules as it is.
 * The rules/ folder and package.json are found on disk by walking up from the file that runs
 * (src/rules/load.ts, src/cli/version.ts), which works from dist/ as from dist/src/.
 */
export default {
  input: 'dist/src/cli/main.js',
  platform: 'node',
  external: ['onnxruntime-node'],
  output: { file: 'dist/ctc.js', format: 'esm' },
};
