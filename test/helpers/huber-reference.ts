/**
 * Independent reference computations for the Huber distribution, built only from the definition
 * p ∝ exp(−h_δ(‖A(y − μ)‖)) and numerical integration (no code from src/huber).
 */
import { integrate } from './integrate.js';
import type { Rng } from './prng.js';

export function referenceLoss(r: number, delta: number): number {
  return r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
}

/** The radius beyond which the radial profile's remaining mass is below e^{−80} of the whole. */
export function referenceCutoff(n: number, delta: number): number {
  return Math.max(delta, 14) + (100 + 10 * n) / delta;
}

/** ∫_lo^hi rⁿ e^{−h_δ(r)} dr, split at δ where the integrand has a kink. */
export function referenceRadialIntegral(n: number, delta: number, lo: number, hi: number): number {
  const f = (r: number): number => Math.pow(r, n) * Math.exp(-referenceLoss(r, delta));
  if (hi <= delta || lo >= delta) return integrate(f, lo, hi, 1e-14);
  return integrate(f, lo, delta, 1e-14) + integrate(f, delta, hi, 1e-14);
}

export function referenceMoment(n: number, delta: number): number {
  return referenceRadialIntegral(n, delta, 0, referenceCutoff(n, delta));
}

const SPHERE = [NaN, 2, 2 * Math.PI, 4 * Math.PI, 2 * Math.PI * Math.PI];

export function referenceNormalizer(d: number, delta: number): number {
  return SPHERE[d]! * referenceMoment(d - 1, delta);
}

export function referenceKappa(d: number, delta: number): number {
  return referenceMoment(d + 1, delta) / (d * referenceMoment(d - 1, delta));
}

/** A tabulated radial CDF (cumulative quadrature on a fine grid), inverted by interpolation. */
export class RadialSampler {
  private readonly radii: Float64Array;
  private readonly cdf: Float64Array;

  constructor(
    readonly d: number,
    readonly delta: number,
    points = 6000,
  ) {
    const cutoff = referenceCutoff(d - 1, delta);
    // Grid dense near the body of the distribution, where the inverse is evaluated most.
    this.radii = new Float64Array(points + 1);
    this.cdf = new Float64Array(points + 1);
    for (let i = 0; i <= points; i++) this.radii[i] = cutoff * Math.pow(i / points, 2);
    let acc = 0;
    for (let i = 1; i <= points; i++) {
      acc += referenceRadialIntegral(d - 1, delta, this.radii[i - 1]!, this.radii[i]!);
      this.cdf[i] = acc;
    }
    for (let i = 1; i <= points; i++) this.cdf[i]! /= acc;
  }

  /** Radius below which a fraction u of the mass lies. */
  radius(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < u) lo = mid;
      else hi = mid;
    }
    const t = (u - this.cdf[lo]!) / (this.cdf[hi]! - this.cdf[lo]!);
    return this.radii[lo]! + t * (this.radii[hi]! - this.radii[lo]!);
  }

  /**
   * Draws y = μ + A⁻¹·r·u with r from the radial inverse CDF and u uniform on the unit sphere; `inverseSqrt`
   * is A⁻¹ (row-major d×d). Writes `count` samples row by row into the returned array.
   */
  sample(rng: Rng, count: number, mean: ArrayLike<number>, inverseSqrt: ArrayLike<number>): Float64Array {
    const d = this.d;
    const out = new Float64Array(count * d);
    const u = new Float64Array(d);
    for (let s = 0; s < count; s++) {
      let norm = 0;
      for (let i = 0; i < d; i++) {
        u[i] = rng.normal();
        norm += u[i]! * u[i]!;
      }
      const r = this.radius(rng.uniform()) / Math.sqrt(norm);
      for (let i = 0; i < d; i++) {
        let v = mean[i]!;
        for (let k = 0; k < d; k++) v += inverseSqrt[i * d + k]! * u[k]! * r;
        out[s * d + i] = v;
      }
    }
    return out;
  }
}

/** Sample covariance (about the true mean when given, else the sample mean) of row-major samples. */
export function sampleCovariance(samples: Float64Array, d: number, center?: ArrayLike<number>): Float64Array {
  const count = samples.length / d;
  const mean = new Float64Array(d);
  if (center) for (let i = 0; i < d; i++) mean[i] = center[i]!;
  else {
    for (let s = 0; s < count; s++) for (let i = 0; i < d; i++) mean[i]! += samples[s * d + i]! / count;
  }
  const cov = new Float64Array(d * d);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) cov[i * d + j]! += (samples[s * d + i]! - mean[i]!) * (samples[s * d + j]! - mean[j]!);
    }
  }
  for (let i = 0; i < d * d; i++) cov[i]! /= count;
  return cov;
}
