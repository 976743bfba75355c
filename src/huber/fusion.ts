/** Fusing several distributions of one keypoint (docs/spec.md §4). */

import { assertDistribution, mahalanobisRadius } from './distribution.js';
import { cholesky, choleskySolve, symmetrize, tryCholesky } from './linalg.js';
import { huberLoss } from './radial.js';
import type { HuberDistribution } from './types.js';

export const DEFAULT_FUSION_TOLERANCE = 1e-6;
export const DEFAULT_FUSION_MAX_ITERATIONS = 100;
const MAX_EXTRAPOLATION = 2 ** 40;
const MAX_HALVINGS = 30;

export interface FuseMlOptions {
  /** Stop once a step moves the point less than this (Euclidean, in the distributions' units). */
  tolerance?: number;
  maxIterations?: number;
  /** Starting point; defaults to the first distribution's mean (the un-mirrored view for TTA). */
  start?: ArrayLike<number>;
}

export interface FuseMlResult {
  point: Float64Array;
  /** Number of majorize–minimize updates made. */
  iterations: number;
  /** Whether the last step fell below the tolerance before the iteration cap. */
  converged: boolean;
  /** Σᵢ h_δ(‖Aᵢ(y − μᵢ)‖) at the returned point. */
  cost: number;
}

/** Common dimension and δ of a non-empty list of distributions. */
function assertCompatible(dists: readonly HuberDistribution[]): { d: number; delta: number } {
  // Array.isArray would narrow the readonly parameter to any[]; the check is for untyped callers.
  const isList: boolean = Array.isArray(dists);
  if (!isList || dists.length === 0) {
    throw new RangeError(`distributions must be a non-empty array, got ${isList ? 'an empty array' : typeof dists}`);
  }
  dists.forEach((dist, i) => assertDistribution(dist, `distributions[${i}]`));
  const { dimension: d, delta } = dists[0];
  dists.forEach((dist, i) => {
    if (dist.dimension !== d) throw new RangeError(`distributions[${i}] has dimension ${dist.dimension}, expected ${d}`);
    if (dist.delta !== delta) throw new RangeError(`distributions[${i}] has delta ${dist.delta}, expected ${delta}`);
  });
  return { d, delta };
}

export function assertTolerance(tolerance: number): void {
  if (!(tolerance > 0) || !Number.isFinite(tolerance)) {
    throw new RangeError(`tolerance must be a positive finite number, got ${tolerance}`);
  }
}

export function assertMaxIterations(maxIterations: number): void {
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new RangeError(`maxIterations must be a positive integer, got ${maxIterations}`);
  }
}

/** The ML objective Σᵢ h_δ(‖Aᵢ(y − μᵢ)‖). */
export function fusionCost(dists: readonly HuberDistribution[], y: ArrayLike<number>): number {
  let cost = 0;
  for (const dist of dists) cost += huberLoss(mahalanobisRadius(dist, y), dist.delta);
  return cost;
}

/** MM weight: the quadratic majorizer of h_δ at radius r has curvature 1 inside δ and δ/r beyond. */
function mmWeight(r: number, delta: number): number {
  return r <= delta ? 1 : delta / r;
}

/**
 * ML point argmin_y Σᵢ h_δ(‖Aᵢ(y − μᵢ)‖) (docs/spec.md §4). Each iteration forms two candidates:
 * - the majorize–minimize update of the paper's supplement E, y ← (Σ wᵢΛᵢ)⁻¹ Σ wᵢΛᵢμᵢ with
 *   wᵢ = min(1, δ/rᵢ), which minimizes a quadratic lying above the cost and touching it at y, so it never
 *   increases the cost; alone it crawls where views sit beyond δ, since there the cost is flat radially;
 * - a Newton step with the exact Hessian Σ wᵢΛᵢ − Σ_{rᵢ>δ} (δ/rᵢ³)(Λᵢdᵢ)(Λᵢdᵢ)ᵀ, dᵢ = y − μᵢ (the
 *   second-order "Triggs" term of seed 003 §2), converging quadratically near the optimum.
 * The Newton step is halved until its cost is no higher than the MM candidate's: where views sit beyond δ
 * on nearly opposite sides the cost is almost flat along a valley, the Hessian almost singular and the full
 * Newton step far too long, while MM zig-zags across the valley. If no Newton point qualifies, the MM step
 * is doubled while that strictly lowers the cost. Every accepted point costs no more than the MM
 * candidate, so the cost never increases.
 */
export function fuseMl(dists: readonly HuberDistribution[], options: FuseMlOptions = {}): FuseMlResult {
  const { d, delta } = assertCompatible(dists);
  const tolerance = options.tolerance ?? DEFAULT_FUSION_TOLERANCE;
  const maxIterations = options.maxIterations ?? DEFAULT_FUSION_MAX_ITERATIONS;
  assertTolerance(tolerance);
  assertMaxIterations(maxIterations);
  let y: Float64Array;
  if (options.start !== undefined) {
    if (options.start.length !== d) throw new RangeError(`start must hold ${d} numbers, got length ${options.start.length}`);
    y = Float64Array.from(options.start);
    y.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new RangeError(`start[${i}] must be finite, got ${v}`);
    });
  } else {
    y = Float64Array.from(dists[0].mean);
  }
  if (dists.length === 1 && options.start === undefined) {
    return { point: y, iterations: 0, converged: true, cost: 0 };
  }
  const s = new Float64Array(d * d);
  const h = new Float64Array(d * d);
  const b = new Float64Array(d);
  const gradient = new Float64Array(d);
  const ld = new Float64Array(d);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    s.fill(0);
    h.fill(0);
    b.fill(0);
    for (const dist of dists) {
      const r = mahalanobisRadius(dist, y);
      const w = mmWeight(r, delta);
      for (let i = 0; i < d; i++) {
        let sum = 0;
        for (let j = 0; j < d; j++) {
          const wl = w * dist.precision[i * d + j];
          s[i * d + j] += wl;
          b[i] += wl * dist.mean[j];
          sum += dist.precision[i * d + j] * (y[j] - dist.mean[j]);
        }
        ld[i] = sum;
      }
      if (r > delta) {
        const c = delta / (r * r * r);
        for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) h[i * d + j] -= c * ld[i] * ld[j];
      }
    }
    symmetrize(s, d);
    let next = choleskySolve(cholesky(s, d, 'weighted precision'), d, b);
    for (let i = 0; i < d * d; i++) h[i] += s[i];
    const hessian = tryCholesky(symmetrize(h, d), d, 1e-12);
    let best = fusionCost(dists, next);
    let newtonTaken = false;
    if (hessian !== null) {
      for (let i = 0; i < d; i++) {
        let sum = -b[i];
        for (let j = 0; j < d; j++) sum += s[i * d + j] * y[j];
        gradient[i] = sum;
      }
      const newtonStep = choleskySolve(hessian, d, gradient);
      for (let t = 1, halvings = 0; halvings <= MAX_HALVINGS; t *= 0.5, halvings++) {
        const newton = y.map((v, i) => v - t * newtonStep[i]);
        if (fusionCost(dists, newton) <= best) {
          next = newton;
          newtonTaken = true;
          break;
        }
      }
    }
    if (!newtonTaken) {
      const direction = next.map((v, i) => v - y[i]);
      for (let t = 2; t <= MAX_EXTRAPOLATION; t *= 2) {
        const candidate = y.map((v, i) => v + t * direction[i]);
        const c = fusionCost(dists, candidate);
        if (!(c < best)) break;
        best = c;
        next = candidate;
      }
    }
    let step = 0;
    for (let i = 0; i < d; i++) step += (next[i] - y[i]) ** 2;
    y = next;
    iterations++;
    if (Math.sqrt(step) < tolerance) {
      converged = true;
      break;
    }
  }
  return { point: y, iterations, converged, cost: fusionCost(dists, y) };
}

/** The "mean" alternative: the plain average of the means. */
export function fuseMean(dists: readonly HuberDistribution[]): Float64Array {
  const { d } = assertCompatible(dists);
  const out = new Float64Array(d);
  for (const dist of dists) for (let i = 0; i < d; i++) out[i] += dist.mean[i];
  for (let i = 0; i < d; i++) out[i] /= dists.length;
  return out;
}

/**
 * Second moment about `point` of the equal-weight mixture of the distributions:
 * (1/n) Σᵢ [Σᵢ + (μᵢ − y)(μᵢ − y)ᵀ]. Views of one image are not independent, so agreeing views keep their
 * width and disagreeing views widen it (docs/spec.md §4).
 */
export function mixtureCovariance(dists: readonly HuberDistribution[], point: ArrayLike<number>): Float64Array {
  const { d } = assertCompatible(dists);
  if (point.length !== d) throw new RangeError(`point must hold ${d} numbers, got length ${point.length}`);
  const out = new Float64Array(d * d);
  for (const dist of dists) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        out[i * d + j] += dist.covariance[i * d + j] + (dist.mean[i] - point[i]) * (dist.mean[j] - point[j]);
      }
    }
  }
  for (let i = 0; i < d * d; i++) out[i] /= dists.length;
  return symmetrize(out, d);
}

/**
 * Σᵢ wᵢΛᵢ at `point`, wᵢ = min(1, δ/rᵢ): the precision of independent evidence (several cameras or
 * frames) fused at the ML point, for a fusion endpoint; not used for test-time views.
 */
export function independentPrecision(dists: readonly HuberDistribution[], point: ArrayLike<number>): Float64Array {
  const { d, delta } = assertCompatible(dists);
  if (point.length !== d) throw new RangeError(`point must hold ${d} numbers, got length ${point.length}`);
  const out = new Float64Array(d * d);
  for (const dist of dists) {
    const w = mmWeight(mahalanobisRadius(dist, point), delta);
    for (let i = 0; i < d * d; i++) out[i] += w * dist.precision[i];
  }
  return symmetrize(out, d);
}
