/**
 * Independent references for fused posteriors p(y) ∝ Πᵢ exp(−h_δ(‖Aᵢ(y − μᵢ)‖)): nested adaptive
 * Gauss–Kronrod over a box, a brute-force minimizer, and the radial quantile by bisection on
 * quadrature. Nothing here imports src/huber.
 */
import { referenceLoss, referenceMoment, referenceRadialIntegral } from './huber-reference.js';
import { integrate } from './integrate.js';
import type { Rng } from './prng.js';

export interface ReferenceFactor {
  mean: ArrayLike<number>;
  /** Λ, d × d row-major. */
  precision: ArrayLike<number>;
}

export function referenceCost(factors: readonly ReferenceFactor[], y: ArrayLike<number>, delta: number): number {
  const d = y.length;
  let total = 0;
  for (const { mean, precision } of factors) {
    let q = 0;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) q += (y[i]! - mean[i]!) * precision[i * d + j]! * (y[j]! - mean[j]!);
    total += referenceLoss(Math.sqrt(Math.max(0, q)), delta);
  }
  return total;
}

/** r with F_d(r) = p, by bisection on the quadrature of the radial profile. */
export function referenceQuantile(d: number, delta: number, p: number): number {
  const total = referenceMoment(d - 1, delta);
  let lo = 0;
  let hi = 1;
  while (referenceRadialIntegral(d - 1, delta, 0, hi) < p * total) hi *= 2;
  for (let i = 0; i < 80; i++) {
    const mid = 0.5 * (lo + hi);
    if (referenceRadialIntegral(d - 1, delta, 0, mid) < p * total) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

export interface ReferenceMoments {
  mean: number[];
  covariance: number[];
}

/**
 * Posterior mean and covariance by nested adaptive quadrature over the box center ± halfWidth. The
 * exponent is taken relative to its value at `center` so nothing overflows.
 */
export function referenceMoments(
  factors: readonly ReferenceFactor[],
  delta: number,
  center: readonly number[],
  halfWidth: readonly number[],
  relTol = 1e-10,
): ReferenceMoments {
  const d = center.length;
  const base = referenceCost(factors, center, delta);
  const y = new Float64Array(d);
  // Monomials 1, yᵢ, yᵢyⱼ relative to the center; one pass per monomial keeps each integrand scalar.
  const monomial = (powers: number[]): number => {
    const inner = (level: number): number => {
      const f = (x: number): number => {
        y[level] = center[level]! + x;
        let weight = 1;
        for (let p = 0; p < powers[level]!; p++) weight *= x;
        if (weight === 0 && powers[level]! > 0) return 0;
        return weight * (level === d - 1 ? Math.exp(base - referenceCost(factors, y, delta)) : inner(level + 1));
      };
      return integrate(f, -halfWidth[level]!, halfWidth[level]!, relTol, 1e-300);
    };
    return inner(0);
  };
  const zero = new Array<number>(d).fill(0);
  const mass = monomial(zero);
  const first = zero.map((_, i) => monomial(zero.map((__, k) => (k === i ? 1 : 0))) / mass);
  const covariance = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const second = monomial(zero.map((_, k) => (k === i ? 1 : 0) + (k === j ? 1 : 0))) / mass;
      covariance[i * d + j] = second - first[i]! * first[j]!;
      covariance[j * d + i] = covariance[i * d + j]!;
    }
  }
  return { mean: first.map((v, i) => center[i]! + v), covariance };
}

/**
 * argmin of a cost by a dense grid over a box, then repeated pattern search around the best grid
 * point with shrinking steps: derivative-free, so independent of any Hessian or MM weight.
 */
export function bruteForceMinimum(
  cost: (y: Float64Array) => number,
  lo: readonly number[],
  hi: readonly number[],
  grid = 60,
): Float64Array {
  const d = lo.length;
  const best = new Float64Array(d);
  let bestValue = Infinity;
  const y = new Float64Array(d);
  const total = Math.pow(grid + 1, d);
  for (let index = 0; index < total; index++) {
    let rest = index;
    for (let i = 0; i < d; i++) {
      y[i] = lo[i]! + ((hi[i]! - lo[i]!) * (rest % (grid + 1))) / grid;
      rest = Math.floor(rest / (grid + 1));
    }
    const value = cost(y);
    if (value < bestValue) {
      bestValue = value;
      best.set(y);
    }
  }
  let step = Math.max(...hi.map((h, i) => h - lo[i]!)) / grid;
  const trial = new Float64Array(d);
  // Pattern search over all 3^d − 1 neighbours, so it follows diagonal valleys as well.
  while (step > 1e-11 * Math.max(1, ...Array.from(best, Math.abs))) {
    let improved = false;
    for (let index = 0; index < Math.pow(3, d); index++) {
      let rest = index;
      for (let i = 0; i < d; i++) {
        trial[i] = best[i]! + ((rest % 3) - 1) * step;
        rest = Math.floor(rest / 3);
      }
      const value = cost(trial);
      if (value < bestValue) {
        bestValue = value;
        best.set(trial);
        improved = true;
      }
    }
    if (!improved) step /= 2;
  }
  return best;
}

/** A random symmetric positive-definite d×d covariance (A Aᵀ + 0.3 I, scaled), row-major. */
export function randomCovariance(rng: Rng, d: number, size = 1): number[] {
  const a = Array.from({ length: d * d }, () => rng.normal());
  const out = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = i === j ? 0.3 : 0;
      for (let k = 0; k < d; k++) sum += a[i * d + k]! * a[j * d + k]!;
      out[i * d + j] = sum * size;
    }
  }
  return out;
}

/** Lower Cholesky factor, written out so the sampler's scale does not come from the library. */
export function lowerFactor(m: ArrayLike<number>, d: number): number[] {
  const l = new Array<number>(d * d).fill(0);
  for (let j = 0; j < d; j++) {
    let diagonal = m[j * d + j]!;
    for (let k = 0; k < j; k++) diagonal -= l[j * d + k]! ** 2;
    l[j * d + j] = Math.sqrt(diagonal);
    for (let i = j + 1; i < d; i++) {
      let sum = m[i * d + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * d + k]! * l[j * d + k]!;
      l[i * d + j] = sum / l[j * d + j]!;
    }
  }
  return l;
}
