/** Tester cases of src/attention/patterns/folded-heads.ts (see tests/harness/pattern-tester.ts). */
import { describePattern } from '../../harness/pattern-tester.js';
import { foldedHeadsCases } from './cases/folded-heads.js';

describePattern(foldedHeadsCases);
