/** From network outputs to (μ, A, Λ, Σ) in normalized landmark space (docs/spec.md §2). */

import { eigenSymmetric2x2, fromSpectrum, symmetricEigen } from './linalg.js';
import { assertDelta, assertDimension, huberConstants } from './radial.js';
import type { DecodedDistribution, DistributionParams } from './types.js';

/**
 * Bounds on the remapped eigenvalues g of A. For raw outputs far below −θ·69 the exp branch would
 * shrink towards 0 and, below about −745θ, underflow to exactly 0, making A singular and Σ infinite.
 * Flooring g at 1e-30 keeps every eigenvalue of Λ = A² at or above 1e-60, so for d ≤ 4 det Λ ≥ 1e-240
 * stays a normal double, Σ = κΛ⁻¹ stays below κ·1e60, and closed-form 2×2 inverses keep ~1e240 of
 * headroom for pixel-scale affine maps. The ceiling mirrors it for huge outputs so that Λ cannot
 * overflow. Both bounds sit far outside anything a trained float32 network meaningfully produces.
 */
export const REMAP_FLOOR = 1e-30;
export const REMAP_CEILING = 1e30;

export const PLANAR_OUTPUTS_PER_KEYPOINT = 5;

/** Number of raw outputs per keypoint in d dimensions: d for ν plus the d(d+1)/2 upper triangle of B. */
export function outputsPerKeypoint(d: number): number {
  return d + (d * (d + 1)) / 2;
}

export function assertParams(params: DistributionParams): void {
  if (params === null || typeof params !== 'object') throw new TypeError(`params must be an object, got ${params}`);
  assertDelta(params.delta);
  if (!(params.theta > REMAP_FLOOR) || !Number.isFinite(params.theta)) {
    throw new RangeError(`theta must be a finite number above ${REMAP_FLOOR}, got ${params.theta}`);
  }
  if (!Number.isFinite(params.eigenvalueOffset)) {
    throw new RangeError(`eigenvalueOffset must be finite, got ${params.eigenvalueOffset}`);
  }
  if (params.parameterization !== 'nu' && params.parameterization !== 'mu') {
    throw new TypeError(`parameterization must be 'nu' or 'mu', got ${String(params.parameterization)}`);
  }
}

/**
 * g(u) with u = λ + offset: identity at or above θ, θ·exp(u/θ − 1) below, which meets it with value θ and
 * slope 1 at u = θ (continuous and C¹); clamped to [REMAP_FLOOR, REMAP_CEILING].
 */
export function remapEigenvalue(lambda: number, theta: number, offset: number): number {
  const u = lambda + offset;
  const g = u >= theta ? u : theta * Math.exp(u / theta - 1);
  return g < REMAP_FLOOR ? REMAP_FLOOR : g > REMAP_CEILING ? REMAP_CEILING : g;
}

/** Number of doubles decodePlanarInto writes: μx, μy, Λxx, Λxy, Λyy, Σxx, Σxy, Σyy. */
export const PLANAR_DECODED_STRIDE = 8;

/**
 * The d = 2 hot path: decodes raw[base..base+5) into out[o..o+8) as
 * [μx, μy, Λxx, Λxy, Λyy, Σxx, Σxy, Σyy] in normalized space, with Σ = kappaValue·Λ⁻¹.
 * Every matrix function of B is formed as f(λ₂)·I + (f(λ₁) − f(λ₂))·P₁, so no determinant or inverse of
 * a possibly tiny Λ is ever taken. `params` is trusted (validated by the caller once per batch).
 */
export function decodePlanarInto(
  raw: ArrayLike<number>,
  base: number,
  params: DistributionParams,
  kappaValue: number,
  out: Float64Array,
  o: number,
): void {
  const nx = raw[base];
  const ny = raw[base + 1];
  const b11 = raw[base + 2];
  const b12 = raw[base + 3];
  const b22 = raw[base + 4];
  if (!(Number.isFinite(nx) && Number.isFinite(ny) && Number.isFinite(b11) && Number.isFinite(b12) && Number.isFinite(b22))) {
    let bad = base;
    while (Number.isFinite(raw[bad])) bad++;
    throw new RangeError(`raw output at index ${bad} must be finite, got ${raw[bad]}`);
  }
  const e = eigenSymmetric2x2(b11, b12 * Math.SQRT1_2, b22);
  const theta = params.theta;
  const offset = params.eigenvalueOffset;
  const g1 = remapEigenvalue(e.lambda1, theta, offset);
  const g2 = remapEigenvalue(e.lambda2, theta, offset);
  let mx = nx;
  let my = ny;
  if (params.parameterization === 'nu') {
    const i2 = 1 / g2;
    const di = 1 / g1 - i2;
    mx = i2 * nx + di * (e.p11 * nx + e.p12 * ny);
    my = i2 * ny + di * (e.p12 * nx + e.p22 * ny);
  }
  const l2 = g2 * g2;
  const dl = g1 * g1 - l2;
  const s2 = kappaValue / l2;
  const ds = kappaValue / (g1 * g1) - s2;
  out[o] = mx;
  out[o + 1] = my;
  out[o + 2] = l2 + dl * e.p11;
  out[o + 3] = dl * e.p12;
  out[o + 4] = l2 + dl * e.p22;
  out[o + 5] = s2 + ds * e.p11;
  out[o + 6] = ds * e.p12;
  out[o + 7] = s2 + ds * e.p22;
}

/**
 * General decode for d ≤ 4 (docs/spec.md §2): raw[offset..) holds ν (d numbers) then the upper triangle of B in
 * row-major order, off-diagonals scaled by 1/√2 so that the map to B is an isometry.
 */
export function decode(raw: ArrayLike<number>, offset: number, d: number, params: DistributionParams): DecodedDistribution {
  assertDimension(d);
  assertParams(params);
  const count = outputsPerKeypoint(d);
  if (!Number.isInteger(offset) || offset < 0 || offset + count > raw.length) {
    throw new RangeError(`offset ${offset} with ${count} outputs does not fit a raw array of length ${raw.length}`);
  }
  for (let i = offset; i < offset + count; i++) {
    if (!Number.isFinite(raw[i])) throw new RangeError(`raw output at index ${i} must be finite, got ${raw[i]}`);
  }
  const b = new Float64Array(d * d);
  let next = offset + d;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const value = i === j ? raw[next] : raw[next] * Math.SQRT1_2;
      b[i * d + j] = value;
      b[j * d + i] = value;
      next++;
    }
  }
  const { values, vectors } = symmetricEigen(b, d);
  const g = new Float64Array(d);
  const inverseG = new Float64Array(d);
  const squared = new Float64Array(d);
  const covarianceSpectrum = new Float64Array(d);
  const { kappa } = huberConstants(d, params.delta);
  for (let i = 0; i < d; i++) {
    g[i] = remapEigenvalue(values[i], params.theta, params.eigenvalueOffset);
    inverseG[i] = 1 / g[i];
    squared[i] = g[i] * g[i];
    covarianceSpectrum[i] = kappa / squared[i];
  }
  const sqrtPrecision = fromSpectrum(vectors, g, d);
  const inverseSqrt = fromSpectrum(vectors, inverseG, d);
  const mean = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    if (params.parameterization === 'nu') {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += inverseSqrt[i * d + k] * raw[offset + k];
      mean[i] = sum;
    } else {
      mean[i] = raw[offset + i];
    }
  }
  return {
    dimension: d,
    delta: params.delta,
    mean,
    precision: fromSpectrum(vectors, squared, d),
    covariance: fromSpectrum(vectors, covarianceSpectrum, d),
    sqrtPrecision,
    remappedEigenvalues: g,
  };
}

/** decode for d = 2 through the closed-form hot path, returned as a distribution object. */
export function decodePlanar(raw: ArrayLike<number>, offset: number, params: DistributionParams): DecodedDistribution {
  assertParams(params);
  if (!Number.isInteger(offset) || offset < 0 || offset + PLANAR_OUTPUTS_PER_KEYPOINT > raw.length) {
    throw new RangeError(`offset ${offset} with 5 outputs does not fit a raw array of length ${raw.length}`);
  }
  const { kappa } = huberConstants(2, params.delta);
  const out = new Float64Array(PLANAR_DECODED_STRIDE);
  decodePlanarInto(raw, offset, params, kappa, out, 0);
  const e = eigenSymmetric2x2(raw[offset + 2], raw[offset + 3] * Math.SQRT1_2, raw[offset + 4]);
  const g1 = remapEigenvalue(e.lambda1, params.theta, params.eigenvalueOffset);
  const g2 = remapEigenvalue(e.lambda2, params.theta, params.eigenvalueOffset);
  const dg = g1 - g2;
  return {
    dimension: 2,
    delta: params.delta,
    mean: out.slice(0, 2),
    precision: Float64Array.of(out[2], out[3], out[3], out[4]),
    covariance: Float64Array.of(out[5], out[6], out[6], out[7]),
    sqrtPrecision: Float64Array.of(g2 + dg * e.p11, dg * e.p12, dg * e.p12, g2 + dg * e.p22),
    remappedEigenvalues: Float64Array.of(g1, g2),
  };
}
