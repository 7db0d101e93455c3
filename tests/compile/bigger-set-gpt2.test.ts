/** README's accuracy table on the bigger evaluation set: gpt2-bytes-ts-eager (tests/harness/bigger-set.ts). */
import { describeBiggerSet } from '../harness/bigger-set.js';

describeBiggerSet('gpt2-bytes-ts-eager');
