/**
 * The rotation of compressed-tensors' "hadamard" transform (transform/utils/hadamard.py and
 * factory/hadamard.py): Sylvester's Hadamard matrix of order n (a power of two),
 *
 *   H₁ = [1],   H₂ₙ = [[Hₙ, Hₙ], [Hₙ, −Hₙ]],
 *
 * divided by √n so that it is orthonormal (HHᵀ = I). It is symmetric, so its inverse (the
 * transform's `inverse: true`, weight.T) is itself. On a tensor whose last axis is wider than n
 * (packed heads [B, S, H·D], or a block smaller than the head dim) it acts block-diagonally, one
 * block per n values, as compressed-tensors' _multihead_matmul does.
 */

export const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Row-major size×size block-diagonal matrix of orthonormal Sylvester blocks of order `block`. */
export function hadamardMatrix(size: number, block: number): Float64Array {
  if (!isPowerOfTwo(block)) throw new RangeError(`Hadamard block ${block}: Sylvester's construction needs a power of two`);
  if (size % block !== 0) throw new RangeError(`Hadamard block ${block} does not divide ${size}`);
  const scale = 1 / Math.sqrt(block);
  const out = new Float64Array(size * size);
  for (let b = 0; b < size; b += block) {
    for (let i = 0; i < block; i++) {
      for (let j = 0; j < block; j++) {
        // Sylvester: the sign of H[i][j] is (−1)^popcount(i AND j).
        let x = i & j;
        let parity = 0;
        while (x !== 0) {
          parity ^= x & 1;
          x >>>= 1;
        }
        out[(b + i) * size + b + j] = parity === 0 ? scale : -scale;
      }
    }
  }
  return out;
}
