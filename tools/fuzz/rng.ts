/**
 * A small seeded random source (splitmix64 on BigInt-free 32-bit halves: mulberry32 over a
 * mixed seed). Every fuzz case draws from its own generator, seeded by (campaign seed, case
 * index), so case N is the same whatever ran before it and however cases are split over workers.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Pick by weight: [[weight, value], ...]. */
  weighted<T>(table: readonly (readonly [number, T])[]): T;
}

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function caseRng(seed: number, index: number, stream = 0): Rng {
  let s = mix(mix(mix(0x9e3779b9, seed >>> 0), Math.floor(seed / 2 ** 32)), mix(index >>> 0, stream + 1));
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (xs) => {
      if (xs.length === 0) throw new Error('pick from an empty list');
      return xs[int(0, xs.length - 1)]!;
    },
    weighted: (table) => {
      const total = table.reduce((a, [w]) => a + w, 0);
      let r = next() * total;
      for (const [w, v] of table) {
        if (r < w) return v;
        r -= w;
      }
      return table[table.length - 1]![1];
    },
  };
}
