/** README's accuracy table on the bigger evaluation set: llama-gqa-bytes-ts-eager (tests/harness/bigger-set.ts). */
import { describeBiggerSet } from '../harness/bigger-set.js';

describeBiggerSet('llama-gqa-bytes-ts-eager');
