/**
 * Raw byte mutations of a file, blind to its format: bit flips, byte overwrites with values that
 * matter to protobuf (varint continuation bits, wire types, 0x00 / 0xff), truncation, and
 * splices (a chunk of this or another file copied in, a chunk removed or repeated).
 */
import type { Rng } from './rng.js';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x3a, 0x42];

export function mutateBytes(rng: Rng, input: Uint8Array, donors: readonly Uint8Array[]): { bytes: Uint8Array; what: string } {
  let b = Buffer.from(input);
  const what: string[] = [];
  const n = rng.int(1, 4);
  for (let k = 0; k < n && b.length > 0; k++) {
    const at = rng.int(0, b.length - 1);
    const op = rng.weighted([
      [4, 'flip'],
      [3, 'byte'],
      [1, 'truncate'],
      [2, 'splice'],
      [1, 'delete'],
      [1, 'repeat'],
    ] as const);
    switch (op) {
      case 'flip':
        b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 'byte':
        b[at] = rng.chance(0.6) ? rng.pick(INTERESTING) : rng.int(0, 255);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'splice': {
        const donor = donors.length === 0 || rng.chance(0.5) ? b : rng.pick(donors);
        if (donor.length === 0) break;
        const from = rng.int(0, donor.length - 1);
        const len = Math.min(rng.int(1, 256), donor.length - from);
        const chunk = Buffer.from(donor.subarray(from, from + len));
        b = Buffer.concat([b.subarray(0, at), chunk, b.subarray(rng.chance(0.5) ? at + len : at)]);
        break;
      }
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 64)))]);
        break;
      case 'repeat': {
        const len = Math.min(rng.int(1, 64), b.length - at);
        const chunk = b.subarray(at, at + len);
        b = Buffer.concat([b.subarray(0, at), chunk, chunk, b.subarray(at + len)]);
        break;
      }
    }
    what.push(`${op}@${at}`);
  }
  return { bytes: new Uint8Array(b), what: `bytes: ${what.join(' ')}` };
}
