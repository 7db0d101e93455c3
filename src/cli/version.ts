/**
 * The package version, read from package.json so that there is one source of truth. The file
 * is found by walking up from this module: it sits two folders up when the sources run
 * directly (src/cli/, as in tests that call main() in-process), three up when compiled
 * (dist/src/cli/) and one up in the bundled program (dist/ctc.js).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ctc' && typeof pkg.version === 'string') return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ctc above ${import.meta.dirname}`);
  }
}

export const VERSION: string = packageVersion();
