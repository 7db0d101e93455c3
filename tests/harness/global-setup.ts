/**
 * Unpacks the ONNX backend node tests (corpus/onnx-node-tests.tar.gz) into .cache/ once, and
 * builds the CLI the CLI tests run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

export default function setup(): void {
  const cache = join(ROOT, '.cache');
  const node = join(cache, 'node');
  if (!existsSync(node) || readdirSync(node).length < 1858) {
    mkdirSync(cache, { recursive: true });
    execFileSync('tar', ['-xzf', join(ROOT, 'corpus', 'onnx-node-tests.tar.gz'), '-C', cache]);
  }
}
