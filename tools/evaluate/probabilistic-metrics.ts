/**
 * How honest the returned distributions are (docs/spec.md §10): NLL of the ground truth, coverage of the level-p
 * regions, calibration of predicted against empirical rmse. "The returned distribution" is the Huber
 * distribution with the returned mean, Λ = κ_d(δ)·Σ⁻¹ from the returned covariance, δ from the manifest.
 */
import { huberLoss, kappa, logNormalizer, radialQuantile } from '../../src/huber/index.js';

export const COVERAGE_LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99] as const;
export const DEFAULT_CALIBRATION_BINS = 10;

export interface ReturnedKeypoint {
  x: number;
  y: number;
  /** Σ, image pixels², [[σxx, σxy], [σxy, σyy]]. */
  covariance: number[][];
}

/** One keypoint's facts that every probabilistic measure pools. */
export interface KeypointScore {
  nll: number;
  /** ‖A(g − μ)‖, the radius in the distribution's whitened space. */
  radius: number;
  /** trace Σ: the predicted mean squared error. */
  predictedSquaredError: number;
  /** ‖g − μ‖². */
  squaredError: number;
}

export class ProbabilisticScorer {
  private readonly kappa: number;
  private readonly logNormalizer: number;
  private readonly radii = new Map<number, number>();

  constructor(readonly delta: number) {
    this.kappa = kappa(2, delta);
    this.logNormalizer = logNormalizer(2, delta);
  }

  /** r_p = F₂⁻¹(p): the level-p region is ‖A(y − μ)‖ ≤ r_p. */
  levelRadius(level: number): number {
    let radius = this.radii.get(level);
    if (radius === undefined) {
      radius = radialQuantile(2, this.delta, level);
      this.radii.set(level, radius);
    }
    return radius;
  }

  score(predicted: ReturnedKeypoint, truthX: number, truthY: number): KeypointScore {
    const sxx = predicted.covariance[0]?.[0];
    const sxy = predicted.covariance[0]?.[1];
    const syx = predicted.covariance[1]?.[0];
    const syy = predicted.covariance[1]?.[1];
    if (sxx === undefined || sxy === undefined || syx === undefined || syy === undefined) {
      throw new RangeError(`covariance must be 2×2, got ${JSON.stringify(predicted.covariance)}`);
    }
    const determinant = sxx * syy - sxy * syx;
    if (![sxx, sxy, syx, syy, predicted.x, predicted.y].every(Number.isFinite) || !(sxx > 0 && determinant > 0)) {
      throw new RangeError(`covariance ${JSON.stringify(predicted.covariance)} is not finite and positive definite`);
    }
    const dx = truthX - predicted.x;
    const dy = truthY - predicted.y;
    const off = 0.5 * (sxy + syx);
    // Λ = κ·Σ⁻¹, so (g − μ)ᵀΛ(g − μ) = κ·(dx² σyy − 2 dx dy σxy + dy² σxx)/|Σ| and log|A| = ½(2 log κ − log|Σ|).
    const radius = Math.sqrt(Math.max(0, (this.kappa * (dx * dx * syy - 2 * dx * dy * off + dy * dy * sxx)) / determinant));
    const logDetA = Math.log(this.kappa) - 0.5 * Math.log(determinant);
    return {
      nll: -logDetA + this.logNormalizer + huberLoss(radius, this.delta),
      radius,
      predictedSquaredError: sxx + syy,
      squaredError: dx * dx + dy * dy,
    };
  }

  /** Fraction of radii inside the level-p region, per level. */
  coverage(radii: readonly number[], levels: readonly number[] = COVERAGE_LEVELS): Record<string, number> {
    if (radii.length === 0) throw new RangeError('no keypoints to count');
    return Object.fromEntries(
      levels.map((level) => {
        const limit = this.levelRadius(level);
        return [String(level), radii.filter((radius) => radius <= limit).length / radii.length];
      }),
    );
  }
}

export interface CalibrationBin {
  count: number;
  /** √(mean trace Σ) over the bin. */
  predictedRmse: number;
  /** √(mean ‖g − μ‖²) over the bin. */
  empiricalRmse: number;
}

/**
 * The paper's Figure 3: keypoints sorted by predicted error into equal-count bins (sizes differ by at most
 * one, the first bins take the remainder), each bin's predicted against empirical rmse.
 */
export function calibrationBins(scores: readonly KeypointScore[], binCount = DEFAULT_CALIBRATION_BINS): CalibrationBin[] {
  if (!Number.isInteger(binCount) || binCount < 1) throw new RangeError(`binCount must be a positive integer, got ${binCount}`);
  const sorted = [...scores].sort((a, b) => a.predictedSquaredError - b.predictedSquaredError);
  const bins = Math.min(binCount, sorted.length);
  const base = Math.floor(sorted.length / bins);
  const remainder = sorted.length % bins;
  const out: CalibrationBin[] = [];
  let start = 0;
  for (let b = 0; b < bins; b++) {
    const count = base + (b < remainder ? 1 : 0);
    let predicted = 0;
    let empirical = 0;
    for (let i = start; i < start + count; i++) {
      predicted += sorted[i]!.predictedSquaredError;
      empirical += sorted[i]!.squaredError;
    }
    out.push({ count, predictedRmse: Math.sqrt(predicted / count), empiricalRmse: Math.sqrt(empirical / count) });
    start += count;
  }
  return out;
}
