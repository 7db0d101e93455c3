/** Tester cases of src/attention/patterns/decomposed.ts (see tests/harness/pattern-tester.ts). */
import { describePattern } from '../../harness/pattern-tester.js';
import { decomposedCases } from './cases/decomposed.js';

describePattern(decomposedCases);
