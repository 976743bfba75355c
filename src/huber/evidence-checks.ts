/**
 * Checks on the numbers a caller hands to fusion and triangulation, each failing with an EvidenceError
 * that names the value, so that nothing downstream meets a NaN, an asymmetric or a singular matrix.
 */

import { EvidenceError } from './fusion-errors.js';
import { eigenSymmetric2x2, symmetricEigen } from './linalg.js';

/** Relative asymmetry tolerated in a covariance: rounding in a client's JSON, not a different matrix. */
const SYMMETRY_TOLERANCE = 1e-9;
/** Below this ratio of smallest to largest eigenvalue a covariance is singular for our purposes. */
const CONDITION_FLOOR = 1e-12;

/** Array.isArray without its narrowing, which would turn a typed array parameter into any[]. */
export function isList(value: unknown): boolean {
  return Array.isArray(value);
}

export function checkDelta(delta: number): void {
  if (!(typeof delta === 'number' && delta > 0 && Number.isFinite(delta))) {
    throw new EvidenceError(`delta must be a positive finite number, got ${delta}`, 'delta');
  }
}

export function checkLevel(level: number, path = 'level'): void {
  if (!(typeof level === 'number' && level > 0 && level < 1)) {
    throw new EvidenceError(`${path} must lie strictly between 0 and 1, got ${level}`, path);
  }
}

export function checkVector(value: ArrayLike<number>, length: number, path: string): Float64Array {
  if (value === null || typeof value !== 'object' || typeof value.length !== 'number') {
    throw new EvidenceError(`${path} must be an array of ${length} numbers`, path);
  }
  if (value.length !== length) throw new EvidenceError(`${path} must hold ${length} numbers, got ${value.length}`, path);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const v = value[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new EvidenceError(`${path}[${i}] must be a finite number, got ${v}`, `${path}[${i}]`);
    out[i] = v;
  }
  return out;
}

/** A d×d row-major covariance: finite, symmetric, positive definite and not numerically singular. */
export function checkCovariance(value: ArrayLike<number>, d: number, path: string): Float64Array {
  const covariance = checkVector(value, d * d, path);
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale = Math.max(scale, Math.abs(covariance[i]));
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const a = covariance[i * d + j];
      const b = covariance[j * d + i];
      if (Math.abs(a - b) > SYMMETRY_TOLERANCE * scale) {
        throw new EvidenceError(`${path} must be symmetric: entries (${i},${j}) = ${a} and (${j},${i}) = ${b} differ`, path);
      }
      const m = 0.5 * (a + b);
      covariance[i * d + j] = m;
      covariance[j * d + i] = m;
    }
  }
  let largest: number;
  let smallest: number;
  if (d === 2) {
    // Closed form for the 2 × 2 matrices every camera observation carries: Jacobi's allocations and
    // sort cost more than the rest of the check. λ₂ = det/λ₁ keeps the small eigenvalue's digits where
    // λ₁ − 2r would cancel them (1e-13 of diag(1, 1e-13) came out 9.9976e-14); either way the rounding
    // (ε·λ₁ at worst) is far below the thresholds.
    // Entries scaled to at most 1 so that the determinant neither overflows nor underflows.
    const unit = scale > 0 ? scale : 1;
    const a = covariance[0] / unit;
    const b = covariance[1] / unit;
    const c = covariance[3] / unit;
    const { lambda1, lambda2 } = eigenSymmetric2x2(a, b, c);
    largest = unit * lambda1;
    smallest = unit * (lambda1 > 0 ? (a * c - b * b) / lambda1 : lambda2);
  } else {
    const { values } = symmetricEigen(covariance, d);
    largest = values[0];
    smallest = values[d - 1];
  }
  if (!(largest > 0) || smallest < -CONDITION_FLOOR * largest) {
    throw new EvidenceError(`${path} must be positive definite; its smallest eigenvalue is ${smallest}`, path);
  }
  if (!(smallest > CONDITION_FLOOR * largest)) {
    throw new EvidenceError(`${path} is singular: eigenvalues ${smallest} and ${largest} (ratio below ${CONDITION_FLOOR})`, path);
  }
  return covariance;
}
