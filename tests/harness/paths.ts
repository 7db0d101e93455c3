import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CORPUS = join(ROOT, 'corpus');
export const NODE_TESTS = join(ROOT, '.cache', 'node');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export const corpusModel = (name: string): string => join(CORPUS, name, 'model.onnx');
