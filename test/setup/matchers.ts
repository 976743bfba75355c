import { expect } from 'vitest';

export interface Tolerance {
  /** Allowed error relative to |expected|. */
  rel?: number;
  /** Allowed absolute error. */
  abs?: number;
}

type Nested = number | ArrayLike<Nested> | readonly Nested[];

/**
 * Walks `actual` and `expected` together and reports the first element that breaks
 * |actual − expected| ≤ max(abs, rel·|expected|). Floats are never compared exactly; NaN and
 * infinities in `actual` always fail.
 */
function firstMismatch(actual: unknown, expected: unknown, tolerance: Tolerance, path: string): string | null {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number') return `${path || 'value'}: expected a number, got ${String(actual)}`;
    const allowed = Math.max(tolerance.abs ?? 0, (tolerance.rel ?? 0) * Math.abs(expected));
    const error = Math.abs(actual - expected);
    if (!Number.isFinite(actual) || !(error <= allowed)) {
      return `${path || 'value'}: expected ${expected}, got ${actual} (error ${error}, allowed ${allowed})`;
    }
    return null;
  }
  if (expected !== null && typeof expected === 'object' && 'length' in expected) {
    const expectedList = expected as ArrayLike<unknown>;
    if (actual === null || typeof actual !== 'object' || !('length' in actual)) {
      return `${path || 'value'}: expected an array, got ${String(actual)}`;
    }
    const actualList = actual as ArrayLike<unknown>;
    if (actualList.length !== expectedList.length) {
      return `${path || 'value'}: expected length ${expectedList.length}, got ${actualList.length}`;
    }
    for (let i = 0; i < expectedList.length; i++) {
      const mismatch = firstMismatch(actualList[i], expectedList[i], tolerance, `${path}[${i}]`);
      if (mismatch) return mismatch;
    }
    return null;
  }
  return `${path || 'value'}: expected must be a number or a (nested) array of numbers`;
}

expect.extend({
  toBeCloseToNested(received: unknown, expected: Nested, tolerance: Tolerance) {
    const mismatch = firstMismatch(received, expected, tolerance, '');
    return {
      pass: mismatch === null,
      message: () =>
        mismatch === null
          ? `expected ${this.utils.printReceived(received)} not to be within ${JSON.stringify(tolerance)} of ${this.utils.printExpected(expected)}`
          : mismatch,
    };
  },
});

interface CloseMatchers<R = unknown> {
  /** Scalars or nested arrays (typed arrays too) within max(abs, rel·|expected|) element-wise. */
  toBeCloseToNested(expected: Nested, tolerance: Tolerance): R;
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends CloseMatchers<T> {}
}
