import assert from 'node:assert/strict';

export interface Tolerance {
  rel?: number;
  abs?: number;
}

/** Passes when |actual − expected| ≤ max(abs, rel·|expected|); never compares floats exactly. */
export function assertClose(actual: number, expected: number, tolerance: Tolerance, message = ''): void {
  const { rel = 0, abs = 0 } = tolerance;
  const allowed = Math.max(abs, rel * Math.abs(expected));
  const error = Math.abs(actual - expected);
  assert.ok(
    Number.isFinite(actual) && error <= allowed,
    `${message} expected ${expected}, got ${actual} (error ${error}, allowed ${allowed})`,
  );
}

/** Element-wise assertClose for arrays. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, message = ''): void {
  assert.equal(actual.length, expected.length, `${message} length`);
  for (let i = 0; i < actual.length; i++) assertClose(actual[i], expected[i], tolerance, `${message}[${i}]`);
}
