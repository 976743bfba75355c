/** Distribution objects, their likelihood and exact affine moves (docs/spec.md §1, §3). */

import { invertGeneral, invertSpd, logDetSpd, multiply, symmetrize, transpose } from './linalg.js';
import { assertDelta, assertDimension, huberConstants, huberLoss } from './radial.js';
import type { HuberDistribution } from './types.js';

function assertVector(v: ArrayLike<number>, d: number, name: string): void {
  if (v === null || typeof v !== 'object' || v.length !== d) {
    throw new RangeError(`${name} must hold ${d} numbers, got ${v === null || typeof v !== 'object' ? v : `length ${v.length}`}`);
  }
  for (let i = 0; i < d; i++) if (!Number.isFinite(v[i])) throw new RangeError(`${name}[${i}] must be finite, got ${v[i]}`);
}

export function assertDistribution(dist: HuberDistribution, name = 'distribution'): void {
  if (dist === null || typeof dist !== 'object') throw new TypeError(`${name} must be an object, got ${dist}`);
  assertDimension(dist.dimension);
  assertDelta(dist.delta);
  assertVector(dist.mean, dist.dimension, `${name}.mean`);
  assertVector(dist.precision, dist.dimension * dist.dimension, `${name}.precision`);
  assertVector(dist.covariance, dist.dimension * dist.dimension, `${name}.covariance`);
}

/** A distribution from its mean and precision Λ (symmetric positive definite); Σ = κ_d(δ)·Λ⁻¹. */
export function createDistribution(mean: ArrayLike<number>, precision: ArrayLike<number>, delta: number): HuberDistribution {
  const d = mean.length;
  assertDimension(d);
  assertDelta(delta);
  assertVector(mean, d, 'mean');
  assertVector(precision, d * d, 'precision');
  const p = symmetrize(Float64Array.from(precision), d);
  const inverse = invertSpd(p, d, 'precision');
  const { kappa } = huberConstants(d, delta);
  for (let i = 0; i < d * d; i++) inverse[i] *= kappa;
  return { dimension: d, delta, mean: Float64Array.from(mean), precision: p, covariance: inverse };
}

/** ‖A(y − μ)‖ = √((y − μ)ᵀ Λ (y − μ)). */
export function mahalanobisRadius(dist: HuberDistribution, y: ArrayLike<number>): number {
  const d = dist.dimension;
  let q = 0;
  for (let i = 0; i < d; i++) {
    const di = y[i] - dist.mean[i];
    for (let j = 0; j < d; j++) q += di * dist.precision[i * d + j] * (y[j] - dist.mean[j]);
  }
  return Math.sqrt(Math.max(0, q));
}

/** −log p(y) = −log|A| + log c_d(δ) + h_δ(‖A(y − μ)‖), with log|A| = ½ log|Λ| from a Cholesky factor. */
export function negativeLogLikelihood(dist: HuberDistribution, y: ArrayLike<number>): number {
  assertDistribution(dist);
  assertVector(y, dist.dimension, 'y');
  const { logNormalizer } = huberConstants(dist.dimension, dist.delta);
  return (
    -0.5 * logDetSpd(dist.precision, dist.dimension, 'precision') +
    logNormalizer +
    huberLoss(mahalanobisRadius(dist, y), dist.delta)
  );
}

/**
 * Moves a distribution through y' = M·y + t exactly: μ' = Mμ + t, Σ' = MΣMᵀ, Λ' = M⁻ᵀΛM⁻¹, δ unchanged.
 * M is row-major d×d and must be invertible.
 */
export function pushForward(dist: HuberDistribution, m: ArrayLike<number>, t: ArrayLike<number>): HuberDistribution {
  assertDistribution(dist);
  const d = dist.dimension;
  assertVector(m, d * d, 'M');
  assertVector(t, d, 't');
  const inverse = invertGeneral(m, d, 'M');
  const mean = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = t[i];
    for (let k = 0; k < d; k++) sum += m[i * d + k] * dist.mean[k];
    mean[i] = sum;
  }
  const covariance = symmetrize(multiply(multiply(m, dist.covariance, d), transpose(m, d), d), d);
  const precision = symmetrize(multiply(multiply(transpose(inverse, d), dist.precision, d), inverse, d), d);
  return { dimension: d, delta: dist.delta, mean, precision, covariance };
}

/** The left-right mirror of a crop of side `size`: y' = (size − y₁, y₂, …) (docs/spec.md §3). It is its own inverse. */
export function mirror(dist: HuberDistribution, size: number): HuberDistribution {
  if (!Number.isFinite(size)) throw new RangeError(`size must be finite, got ${size}`);
  const d = dist.dimension;
  assertDimension(d);
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = i === 0 ? -1 : 1;
  const t = new Float64Array(d);
  t[0] = size;
  return pushForward(dist, m, t);
}
