import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CORPUS = join(ROOT, 'corpus');
export const NODE_TESTS = join(ROOT, '.cache', 'node');
/** The program `npm run build` makes (tsc's output bundled into one file: rolldown.config.mjs). */
export const CLI = join(ROOT, 'dist', 'ctc.js');

export const corpusModel = (name: string): string => join(CORPUS, name, 'model.onnx');
