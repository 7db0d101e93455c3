/**
 * The options every in-process compile() (and evaluate()) of the tests passes: no progress, no
 * warnings, and one onnxruntime thread per session. The suite runs one worker per core, so a
 * session's second thread has no core of its own: it only spins against the other worker.
 * The CLI tests keep the default a user gets (one thread per core).
 */
import { silentProgress } from '../../src/calibrate/run.js';

export const quiet = { progress: silentProgress, warn: (): void => {}, threads: 1 } as const;
