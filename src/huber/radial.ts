/**
 * One-dimensional facts about the radial profile e^{−h_δ(r)} of the L2 Huber distribution (docs/spec.md §1):
 * the loss h_δ, the normalizing constant c_d(δ), the covariance factor κ_d(δ), the radial mass F_d and
 * its inverse. Every integral is evaluated as a sum of positive terms or in logs so that δ ∈ [0.05, 10]
 * and any radius stay finite and accurate.
 */

import { remembered } from './remembered.js';

export const MAX_DIMENSION = 4;

const SQRT_HALF_PI = Math.sqrt(Math.PI / 2);

/** |S^{d−1}| = 2π^{d/2}/Γ(d/2), tabulated because d is small and Γ is not in the standard library. */
const SPHERE_AREA = [Number.NaN, 2, 2 * Math.PI, 4 * Math.PI, 2 * Math.PI * Math.PI];

export function assertDimension(d: number): void {
  if (!Number.isInteger(d) || d < 1 || d > MAX_DIMENSION) {
    throw new RangeError(`dimension must be an integer from 1 to ${MAX_DIMENSION}, got ${d}`);
  }
}

export function assertDelta(delta: number): void {
  if (!(delta > 0) || !Number.isFinite(delta)) {
    throw new RangeError(`delta must be a positive finite number, got ${delta}`);
  }
}

export function assertLevel(p: number, name = 'level'): void {
  if (!(p > 0 && p < 1)) {
    throw new RangeError(`${name} must be a probability strictly between 0 and 1, got ${p}`);
  }
}

/** The Huber loss h_δ(r) on a radius r ≥ 0 (docs/spec.md §1). */
export function huberLoss(r: number, delta: number): number {
  return r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
}

/**
 * ∫_x^∞ e^{−r²/2} dr for x ≥ 5 by the Laplace continued fraction of the Mills ratio; subtracting
 * it from √(π/2) avoids erf, which JavaScript lacks, and converges in a few dozen levels there.
 */
function gaussianTail(x: number): number {
  let t = x;
  for (let k = 60; k >= 1; k--) t = x + k / t;
  return Math.exp(-0.5 * x * x) / t;
}

/**
 * a(n, x) = ∫₀^x rⁿ e^{−r²/2} dr. For small x the textbook recursion subtracts nearly equal numbers
 * (a(3, 0.05) loses three digits per step), so there we sum the all-positive series
 * e^{−x²/2} Σ_k x^{n+1+2k} / ((n+1)(n+3)…(n+1+2k)); for larger x the recursion is benign.
 */
export function gaussianPart(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x <= 5) {
    const x2 = x * x;
    let term = Math.pow(x, n + 1) / (n + 1);
    let sum = term;
    for (let k = 1; k < 500; k++) {
      term *= x2 / (n + 1 + 2 * k);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return Math.exp(-0.5 * x2) * sum;
  }
  const e = Math.exp(-0.5 * x * x);
  let even = SQRT_HALF_PI - gaussianTail(x);
  let odd = -Math.expm1(-0.5 * x * x);
  if (n === 0) return even;
  if (n === 1) return odd;
  // Corrected sign of a(1) (docs/spec.md §8): a(1) = 1 − e^{−x²/2}.
  for (let m = 2; m <= n; m++) {
    const next = -Math.pow(x, m - 1) * e + (m - 1) * (m % 2 === 0 ? even : odd);
    if (m % 2 === 0) even = next;
    else odd = next;
  }
  return n % 2 === 0 ? even : odd;
}

/**
 * log of ∫_r^∞ ρⁿ e^{−δ(ρ − δ/2)} dρ for r ≥ δ. The closed form e^{−δ(r−δ/2)} Σ_k n!/(n−k)! r^{n−k}/δ^{k+1}
 * is a sum of positive terms, which is e^{δ²/2}·b(n, δ) at r = δ with the corrected 1/δ of docs/spec.md §8 built
 * in; keeping the exponential apart is what lets δ = 10 and huge r stay finite.
 */
export function logLinearTail(n: number, delta: number, r: number): number {
  if (r === Infinity) return -Infinity;
  // Factoring out r^n keeps every term ≤ its r = 1 value, so r^n cannot overflow for huge radii.
  const scale = r > 1 ? r : 1;
  let coefficient = 1;
  let sum = 0;
  let deltaPower = delta;
  for (let k = 0; k <= n; k++) {
    sum += (coefficient * Math.pow(r / scale, n - k)) / (deltaPower * Math.pow(scale, k));
    coefficient *= n - k;
    deltaPower *= delta;
  }
  return -delta * (r - 0.5 * delta) + Math.log(sum) + n * Math.log(scale);
}

/** ∫₀^∞ rⁿ e^{−h_δ(r)} dr = a(n, δ) + e^{δ²/2} b(n, δ). */
export function radialMoment(n: number, delta: number): number {
  return gaussianPart(n, delta) + Math.exp(logLinearTail(n, delta, delta));
}

/** log c_d(δ), the log of the normalizing constant of the unit-precision distribution. */
export function logNormalizer(d: number, delta: number): number {
  assertDimension(d);
  assertDelta(delta);
  return Math.log(SPHERE_AREA[d]) + Math.log(radialMoment(d - 1, delta));
}

/** κ_d(δ): Var(y) = κ_d(δ)·Λ⁻¹. Hot paths take it from huberConstants, which computes it once. */
export function kappa(d: number, delta: number): number {
  assertDimension(d);
  assertDelta(delta);
  return radialMoment(d + 1, delta) / (d * radialMoment(d - 1, delta));
}

function assertRadius(r: number): void {
  if (!(r >= 0)) throw new RangeError(`radius must be a non-negative number, got ${r}`);
}

/** F_d(r): the probability that ‖A(y − μ)‖ ≤ r. */
export function radialCdf(d: number, delta: number, r: number): number {
  assertDimension(d);
  assertDelta(delta);
  assertRadius(r);
  const total = radialMoment(d - 1, delta);
  if (r <= delta) return gaussianPart(d - 1, r) / total;
  return -Math.expm1(logLinearTail(d - 1, delta, r) - Math.log(total));
}

/** 1 − F_d(r), accurate far into the tail where F_d(r) rounds to 1. */
export function radialSurvival(d: number, delta: number, r: number): number {
  assertDimension(d);
  assertDelta(delta);
  assertRadius(r);
  const total = radialMoment(d - 1, delta);
  if (r <= delta) return 1 - gaussianPart(d - 1, r) / total;
  return Math.exp(logLinearTail(d - 1, delta, r) - Math.log(total));
}

/**
 * Solves increasing f(x) = 0 on [lo, hi] by Newton steps that fall back to bisection whenever a step
 * leaves the bracket, so it converges even where the density is flat or steep.
 */
function safeguardedNewton(f: (x: number) => number, df: (x: number) => number, lo: number, hi: number): number {
  let x = 0.5 * (lo + hi);
  for (let i = 0; i < 200; i++) {
    const fx = f(x);
    if (fx === 0) return x;
    if (fx < 0) lo = x;
    else hi = x;
    const slope = df(x);
    let next = slope > 0 ? x - fx / slope : Number.NaN;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - x) <= 1e-15 * Math.max(1, Math.abs(x)) || hi - lo <= 1e-15 * Math.max(1, hi)) return next;
    x = next;
  }
  return x;
}

/** r_p = F_d⁻¹(p): the A-space radius holding probability p. */
export function radialQuantile(d: number, delta: number, p: number): number {
  assertDimension(d);
  assertDelta(delta);
  assertLevel(p, 'probability');
  const n = d - 1;
  const total = radialMoment(n, delta);
  const inner = gaussianPart(n, delta);
  if (p * total <= inner) {
    const target = p * total;
    return safeguardedNewton(
      (r) => gaussianPart(n, r) - target,
      (r) => Math.pow(r, n) * Math.exp(-0.5 * r * r),
      0,
      delta,
    );
  }
  // Solved on the log of the tail mass so that p close to 1 keeps its digits.
  const logTarget = Math.log1p(-p) + Math.log(total);
  let hi = 2 * delta + 1;
  while (logLinearTail(n, delta, hi) > logTarget) hi *= 2;
  return safeguardedNewton(
    (r) => logTarget - logLinearTail(n, delta, r),
    (r) => Math.exp(n * Math.log(r) - delta * (r - 0.5 * delta) - logLinearTail(n, delta, r)),
    delta,
    hi,
  );
}

export interface HuberConstants {
  readonly dimension: number;
  readonly delta: number;
  readonly kappa: number;
  readonly logNormalizer: number;
}

const constantsCache = new Map<string, HuberConstants>();
const quantileCache = new Map<string, number>();

/** κ and log c for (d, δ), computed once per process: the hot path must not integrate per request. */
export function huberConstants(d: number, delta: number): HuberConstants {
  return remembered(constantsCache, `${d}|${delta}`, () => ({
    dimension: d,
    delta,
    kappa: kappa(d, delta),
    logNormalizer: logNormalizer(d, delta),
  }));
}

/** r_p for (d, δ, p), memoized for the same reason as huberConstants. */
export function cachedRadialQuantile(d: number, delta: number, p: number): number {
  return remembered(quantileCache, `${d}|${delta}|${p}`, () => radialQuantile(d, delta, p));
}
