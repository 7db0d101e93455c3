/** Tester cases of src/attention/patterns/gqa-repeat.ts: the grouped-query repeat of K and V. */
import { describePattern } from '../../harness/pattern-tester.js';
import { gqaRepeatCases } from './cases/gqa-repeat.js';

describePattern(gqaRepeatCases);
