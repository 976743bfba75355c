/** Human-facing summaries of a 2-D prediction (docs/spec.md §5). */

import { eigenSymmetric2x2 } from './linalg.js';
import { assertDelta, assertLevel, cachedRadialQuantile, huberConstants } from './radial.js';
import type { Ellipse } from './types.js';

const DEGREES = 180 / Math.PI;

/**
 * The ellipse ‖A(y − μ)‖ ≤ r for a covariance [[sxx, sxy], [sxy, syy]] whose Λ = κΣ⁻¹: semi-axes
 * r/√eig(Λ) = r·√(eig(Σ)/κ). Computed from Σ so that no near-singular Λ is inverted. The angle is that
 * of the major axis, in degrees from +x toward +y, in (−90, 90].
 */
export function ellipseFromCovariance(
  sxx: number,
  sxy: number,
  syy: number,
  kappaValue: number,
  radius: number,
  level: number,
): Ellipse {
  const e = eigenSymmetric2x2(sxx, sxy, syy);
  const major = Math.max(0, e.lambda1);
  const minor = Math.max(0, e.lambda2);
  let angle = 0.5 * Math.atan2(2 * sxy, sxx - syy) * DEGREES;
  if (angle <= -90) angle += 180;
  return {
    level,
    semiMajor: radius * Math.sqrt(major / kappaValue),
    semiMinor: radius * Math.sqrt(minor / kappaValue),
    angle: angle === 0 ? 0 : angle,
  };
}

/** Ellipse at probability `level` of a 2-D distribution with covariance Σ (row-major 2×2) and δ. */
export function ellipse(covariance: ArrayLike<number>, delta: number, level: number): Ellipse {
  if (covariance === null || typeof covariance !== 'object' || covariance.length !== 4) {
    throw new RangeError(
      `covariance must be a row-major 2x2 matrix of 4 numbers, got ${typeof covariance === 'object' ? `${covariance?.length} entries` : typeof covariance}`,
    );
  }
  for (let i = 0; i < 4; i++) {
    if (!Number.isFinite(covariance[i])) throw new RangeError(`covariance[${i}] must be finite, got ${covariance[i]}`);
  }
  assertDelta(delta);
  assertLevel(level);
  const sxy = 0.5 * (covariance[1] + covariance[2]);
  return ellipseFromCovariance(
    covariance[0],
    sxy,
    covariance[3],
    huberConstants(2, delta).kappa,
    cachedRadialQuantile(2, delta, level),
    level,
  );
}

/** √(trace Σ): the expected Euclidean distance error (root mean square), for a row-major d×d Σ. */
export function rmse(covariance: ArrayLike<number>): number {
  const d = Math.round(Math.sqrt(covariance.length));
  if (d < 1 || d * d !== covariance.length) {
    throw new RangeError(`covariance must be a square row-major matrix, got ${covariance.length} entries`);
  }
  let trace = 0;
  for (let i = 0; i < d; i++) trace += covariance[i * d + i];
  if (!(trace >= 0)) throw new RangeError(`covariance trace must be non-negative, got ${trace}`);
  return Math.sqrt(trace);
}
