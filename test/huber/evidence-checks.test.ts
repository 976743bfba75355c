/**
 * checkCovariance's 2 × 2 path decides positive definiteness from the closed-form eigenvalues instead of
 * Jacobi's: the same thresholds, the same messages, checked here against symmetricEigen as the reference.
 */
import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import { checkCovariance } from '../../src/huber/evidence-checks.js';
import { EvidenceError } from '../../src/huber/fusion-errors.js';
import { symmetricEigen } from '../../src/huber/linalg.js';
import { createRng } from '../helpers/prng.js';

/** What the check must decide, from Jacobi's eigenvalues and the documented thresholds (ratio 1e-12). */
function verdict(matrix: readonly number[]): 'ok' | 'indefinite' | 'singular' {
  const { values } = symmetricEigen(matrix, 2);
  const [largest, smallest] = [values[0]!, values[1]!];
  if (!(largest > 0) || smallest < -1e-12 * largest) return 'indefinite';
  if (!(smallest > 1e-12 * largest)) return 'singular';
  return 'ok';
}

function outcome(matrix: readonly number[]): { kind: 'ok' | 'indefinite' | 'singular'; message: string } {
  try {
    checkCovariance(matrix, 2, 'c');
    return { kind: 'ok', message: '' };
  } catch (error) {
    assert.ok(error instanceof EvidenceError);
    assert.equal(error.path, 'c');
    if (/must be positive definite/.test(error.message)) return { kind: 'indefinite', message: error.message };
    if (/is singular/.test(error.message)) return { kind: 'singular', message: error.message };
    throw error;
  }
}

describe('checkCovariance, 2 × 2', () => {
  it('names the smallest eigenvalue of an indefinite matrix and both of a singular one', () => {
    expect(outcome([1, 2, 2, 1])).toEqual({
      kind: 'indefinite',
      message: 'c must be positive definite; its smallest eigenvalue is -1',
    });
    expect(outcome([1, 1, 1, 1])).toEqual({
      kind: 'singular',
      message: 'c is singular: eigenvalues 0 and 2 (ratio below 1e-12)',
    });
    expect(outcome([0, 0, 0, 0]).kind).toBe('indefinite');
    expect(outcome([-1, 0, 0, -2]).kind).toBe('indefinite');
    const ok = checkCovariance([4, 1, 1, 3], 2, 'c');
    expect(Array.from(ok)).toEqual([4, 1, 1, 3]);
    // The small eigenvalue keeps its digits (λ₁ − 2r would give 9.9976e-14 here).
    expect(outcome([1, 0, 0, 1e-13]).message).toBe('c is singular: eigenvalues 1e-13 and 1 (ratio below 1e-12)');
  });

  it('judges by ratios at any scale: entries of 1e±200 neither overflow nor underflow the determinant', () => {
    for (const size of [1e-200, 1e-100, 1, 1e100, 1e200]) {
      expect(outcome([size, 0.5 * size, 0.5 * size, size]).kind).toBe('ok');
      expect(outcome([size, size, size, size]).kind).toBe('singular');
      expect(outcome([size, 2 * size, 2 * size, size]).kind).toBe('indefinite');
    }
  });

  it('decides as the Jacobi eigenvalues do, on random matrices around the singular and indefinite thresholds', () => {
    const rng = createRng(5151);
    let [ok, indefinite, singular] = [0, 0, 0];
    for (let trial = 0; trial < 3000; trial++) {
      // λ₂/λ₁ from −1e-9 to 1e-9 around 0, and from 1e-13 to 1e-11 around the singular threshold.
      const largest = 10 ** rng.range(-6, 6);
      const ratio = trial % 2 === 0 ? rng.range(-1e-9, 1e-9) : 10 ** rng.range(-13, -11);
      const angle = rng.range(0, Math.PI);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const smallest = ratio * largest;
      const off = (largest - smallest) * c * s;
      const matrix = [largest * c * c + smallest * s * s, off, off, largest * s * s + smallest * c * c];
      const expected = verdict(matrix);
      // The two eigen-solvers round differently (by ~1e-16 of λ₁): only matrices within that of a
      // threshold may be judged differently, and none of these lie that close.
      const { values } = symmetricEigen(matrix, 2);
      const margin = Math.min(Math.abs(values[1]!), Math.abs(values[1]! - 1e-12 * values[0]!)) / values[0]!;
      if (margin < 1e-14) continue;
      const { kind } = outcome(matrix);
      assert.equal(kind, expected, `matrix ${matrix.join(', ')}`);
      if (kind === 'ok') ok++;
      else if (kind === 'indefinite') indefinite++;
      else singular++;
    }
    assert.ok(ok > 300 && indefinite > 300 && singular > 300, `${ok}, ${indefinite}, ${singular}`);
  });

  it('symmetrizes within the tolerance and rejects larger asymmetry, as before', () => {
    expect(Array.from(checkCovariance([4, 1, 1 + 1e-12, 3], 2, 'c'))).toEqual([4, 1 + 5e-13, 1 + 5e-13, 3]);
    assert.throws(() => checkCovariance([4, 1, 1.001, 3], 2, 'c'), /must be symmetric/);
  });
});
