import { describe, expect, test } from 'vitest';
import { factorBlockTridiagonal, inverseDiagonalBlocks, solveBlockTridiagonal } from '../../src/huber/block-tridiagonal.js';
import { createRng, type Rng } from '../helpers/prng.js';
import { denseInverse, denseMultiply, denseSolve } from '../helpers/track-reference.js';

/** A random symmetric block-tridiagonal matrix, dense and as blocks; positive definite by diagonal dominance when `definite`. */
function randomSystem(rng: Rng, n: number, m: number, definite: boolean) {
  const size = n * m;
  const dense = new Array<number>(size * size).fill(0);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      if (Math.floor(i / m) - Math.floor(j / m) > 1) continue;
      const value = rng.normal();
      dense[i * size + j] = value;
      dense[j * size + i] = value;
    }
  }
  for (let i = 0; i < size; i++) {
    let row = 0;
    for (let j = 0; j < size; j++) if (j !== i) row += Math.abs(dense[i * size + j]!);
    dense[i * size + i] = definite ? row + 0.5 + rng.uniform() : dense[i * size + i]!;
  }
  const diagonal = new Float64Array(n * m * m);
  const upper = new Float64Array((n - 1) * m * m);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < m; c++) {
        diagonal[b * m * m + r * m + c] = dense[(b * m + r) * size + b * m + c]!;
        if (b + 1 < n) upper[b * m * m + r * m + c] = dense[(b * m + r) * size + (b + 1) * m + c]!;
      }
    }
  }
  return { dense, diagonal, upper, size };
}

describe('block-tridiagonal solver', () => {
  for (const [n, m] of [
    [1, 4],
    [7, 4],
    [9, 6],
  ] as const) {
    test(`solve and the diagonal of the inverse match dense Gauss–Jordan (${n} blocks of ${m}×${m})`, () => {
      const rng = createRng(100 * n + m);
      const { dense, diagonal, upper, size } = randomSystem(rng, n, m, true);
      const factor = factorBlockTridiagonal(diagonal, upper, n, m);
      expect(factor).not.toBeNull();
      const rhs = Array.from({ length: size }, () => rng.normal());
      expect(Array.from(solveBlockTridiagonal(factor!, rhs))).toBeCloseToNested(denseSolve(dense, rhs, size), {
        rel: 1e-10,
        abs: 1e-12,
      });
      const inverse = denseInverse(dense, size);
      const blocks = inverseDiagonalBlocks(factor!);
      for (let b = 0; b < n; b++) {
        for (let r = 0; r < m; r++) {
          for (let c = 0; c < m; c++) {
            expect(blocks[b * m * m + r * m + c]!).toBeCloseToNested(inverse[(b * m + r) * size + b * m + c]!, {
              rel: 1e-10,
              abs: 1e-13,
            });
          }
        }
      }
      // The solve really solves: M·x = b.
      const x = Array.from(solveBlockTridiagonal(factor!, rhs));
      expect(denseMultiply(dense, x, size, size, 1)).toBeCloseToNested(rhs, { abs: 1e-10 });
    });
  }

  test('a matrix that is not positive definite is reported as null, not factored', () => {
    const rng = createRng(5);
    const { diagonal, upper } = randomSystem(rng, 5, 4, true);
    // Make the last block's Schur complement negative: subtract a large multiple of the identity.
    for (let i = 0; i < 4; i++) diagonal[4 * 16 + i * 4 + i]! -= 1e3;
    expect(factorBlockTridiagonal(diagonal, upper, 5, 4)).toBeNull();
  });
});
