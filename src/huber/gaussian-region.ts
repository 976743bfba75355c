/**
 * The radius of a Gaussian's probability-p ellipsoid in whitened space, √(χ²_d quantile of p): the
 * region docs/spec.md §9 reports for a smoothed or filtered frame, whose covariance is a Gaussian marginal.
 */
import { assertDimension, assertLevel, gaussianPart } from './radial.js';
import { remembered } from './remembered.js';

/** ∫₀^∞ r^{d−1} e^{−r²/2} dr = 2^{d/2−1} Γ(d/2), tabulated for d = 1…4. */
const GAUSSIAN_RADIAL_TOTAL = [Number.NaN, Math.sqrt(Math.PI / 2), 1, Math.sqrt(Math.PI / 2), 2];

/** P(‖N(0, I_d)‖ ≤ r). */
export function gaussianRadialCdf(d: number, r: number): number {
  assertDimension(d);
  if (!(r > 0)) return 0;
  return Math.min(1, gaussianPart(d - 1, r) / GAUSSIAN_RADIAL_TOTAL[d]);
}

const radiusCache = new Map<string, number>();

/** r with P(‖N(0, I_d)‖ ≤ r) = p, memoized because every frame of a request asks for the same one. */
export function gaussianRegionRadius(d: number, p: number): number {
  assertDimension(d);
  assertLevel(p);
  return remembered(radiusCache, `${d}|${p}`, () => {
    let lo = 0;
    let hi = 1;
    while (gaussianRadialCdf(d, hi) < p) hi *= 2;
    // Bisection to the last bit: the CDF is monotone and this runs once per (d, p).
    for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
      const mid = 0.5 * (lo + hi);
      if (gaussianRadialCdf(d, mid) < p) lo = mid;
      else hi = mid;
    }
    return 0.5 * (lo + hi);
  });
}
