/**
 * Fusion of independent observations of one location (docs/spec.md §9): the flat-prior posterior
 * p(y) ∝ Πᵢ exp(−h_δ(‖Aᵢ(y − μᵢ)‖)) with Λᵢ = κ_d(δ)·Σᵢ⁻¹, summarized by its mean, covariance and
 * level region, plus the ML point where it is unique and its implicit sensitivities (seed 002).
 */

import { checkCovariance, checkDelta, checkLevel, checkVector, isList } from './evidence-checks.js';
import { EvidenceError } from './fusion-errors.js';
import { fuseMl } from './fusion.js';
import { cholesky, choleskySolve, invertGeneral, invertSpd, symmetricEigen, tryCholesky } from './linalg.js';
import {
  ACCURATE_QUADRATURE,
  FAST_QUADRATURE,
  integratePosterior,
  type PosteriorFactor,
  type QuadratureSettings,
} from './posterior-integration.js';
import { cachedRadialQuantile, huberConstants } from './radial.js';
import type { HuberDistribution } from './types.js';

export interface GaussianObservation {
  mean: ArrayLike<number>;
  /** d × d row-major. */
  covariance: ArrayLike<number>;
}

export interface FusionOptions {
  delta: number;
  level: number;
  sensitivities?: boolean;
  /** Further levels whose regions (same mean and covariance) come back in `regions`, at little cost. */
  levels?: readonly number[];
  /** Quadrature of the reported moments and region; the default is accurate to about 1e-5 relative. */
  quadrature?: QuadratureSettings;
}

export interface ObservationDiagnostics {
  weight: number;
  mahalanobis: number;
  outlier: boolean;
}

export interface FusedPoint {
  mean: Float64Array;
  mode: Float64Array | null;
  /** d × d row-major. */
  covariance: Float64Array;
  region: { level: number; radius: number };
  /** The regions of `options.levels`, in that order. */
  regions: { level: number; radius: number }[];
  iterations: number;
  converged: boolean;
  observations: ObservationDiagnostics[];
  /** ∂mode/∂μᵢ per observation, each d × d row-major. */
  sensitivities: Float64Array[] | null;
}

/** docs/spec.md §9: the mode is unique when the Hessian's smallest eigenvalue exceeds this share of its largest. */
export const UNIQUENESS_RATIO = 1e-8;
/** docs/spec.md §9: an observation is an outlier when the result lies outside its own 99 % region. */
export const OUTLIER_LEVEL = 0.99;
const MODE_MAX_ITERATIONS = 500;
/** Rule of the first, rough pass that only places the frame of the accurate ones. */
const FRAME_QUADRATURE: QuadratureSettings = { ...FAST_QUADRATURE, radialNodes: 4 };

/**
 * Default rule per dimension: moments within about 3e-5 (d = 2) and 1e-3 (d = 3) of the posterior's
 * standard deviations on the cases in the tests; the angular rule is what limits accuracy, because rays
 * grazing an observation's δ-ellipse make the ray integrals only piecewise smooth in the direction.
 */
export function defaultQuadrature(d: number): QuadratureSettings {
  return { ...ACCURATE_QUADRATURE, directions: d === 2 ? 32 : 8, radialNodes: 5, maxPanel: 1.5 };
}

interface CheckedObservation {
  mean: Float64Array;
  covariance: Float64Array;
  precision: Float64Array;
}

function checkObservations(
  observations: readonly GaussianObservation[],
  delta: number,
): { d: number; checked: CheckedObservation[] } {
  if (!isList(observations) || observations.length === 0) {
    throw new EvidenceError('observations must be a non-empty array', 'observations');
  }
  const first = observations[0];
  const d =
    first !== null && typeof first === 'object' && first.mean !== null && typeof first.mean === 'object'
      ? first.mean.length
      : NaN;
  if (d !== 2 && d !== 3)
    throw new EvidenceError(`observations[0].mean must hold 2 or 3 numbers, got ${d}`, 'observations[0].mean');
  const k = huberConstants(d, delta).kappa;
  const checked = observations.map((observation, i) => {
    if (observation === null || typeof observation !== 'object') {
      throw new EvidenceError(`observations[${i}] must be an object with mean and covariance`, `observations[${i}]`);
    }
    const mean = checkVector(observation.mean, d, `observations[${i}].mean`);
    const covariance = checkCovariance(observation.covariance, d, `observations[${i}].covariance`);
    const precision = invertSpd(covariance, d);
    for (let j = 0; j < d * d; j++) precision[j] *= k;
    return { mean, covariance, precision };
  });
  return { d, checked };
}

function identical(checked: readonly CheckedObservation[]): boolean {
  const [first] = checked;
  return checked.every(
    (o) => o.mean.every((v, i) => v === first.mean[i]) && o.covariance.every((v, i) => v === first.covariance[i]),
  );
}

/** A factor's whitened residual √κ·C⁻¹(y − μ) with Σ = C·Cᵀ, so that its norm is ‖A(y − μ)‖. */
function factorOf(observation: CheckedObservation, d: number, k: number): PosteriorFactor {
  const inverse = invertGeneral(cholesky(observation.covariance, d), d);
  const map = new Float64Array(d * d);
  const offset = new Float64Array(d);
  const root = Math.sqrt(k);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      map[i * d + j] = root * inverse[i * d + j];
      offset[i] += root * inverse[i * d + j] * observation.mean[j];
    }
  }
  return [{ map, offset, logWeight: 0 }];
}

function radiusOf(observation: CheckedObservation, y: ArrayLike<number>, d: number): number {
  let q = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++)
      q += (y[i] - observation.mean[i]) * observation.precision[i * d + j] * (y[j] - observation.mean[j]);
  }
  return Math.sqrt(Math.max(0, q));
}

function diagnose(
  checked: readonly CheckedObservation[],
  y: ArrayLike<number>,
  d: number,
  delta: number,
): ObservationDiagnostics[] {
  const threshold = cachedRadialQuantile(d, delta, OUTLIER_LEVEL);
  return checked.map((observation) => {
    const r = radiusOf(observation, y, d);
    return { mahalanobis: r, weight: r <= delta ? 1 : delta / r, outlier: r > threshold };
  });
}

/**
 * Each observation's block of the exact Hessian of Σᵢ h_δ(‖Aᵢ(y − μᵢ)‖) at y: wᵢΛᵢ, less the
 * second-order term (δ/rᵢ³)(Λᵢdᵢ)(Λᵢdᵢ)ᵀ beyond δ (seed 003 §2), which is what makes the radial
 * curvature of a linear tail vanish.
 */
export function hessianBlocks(
  observations: readonly { mean: ArrayLike<number>; precision: ArrayLike<number> }[],
  y: ArrayLike<number>,
  delta: number,
): Float64Array[] {
  const d = y.length;
  return observations.map(({ mean, precision }) => {
    const difference = new Float64Array(d);
    for (let i = 0; i < d; i++) difference[i] = y[i] - mean[i];
    const pulled = new Float64Array(d);
    let q = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) pulled[i] += precision[i * d + j] * difference[j];
      q += difference[i] * pulled[i];
    }
    const r = Math.sqrt(Math.max(0, q));
    const block = Float64Array.from(precision);
    if (r > delta) {
      const w = delta / r;
      const curvature = delta / (r * r * r);
      for (let i = 0; i < d * d; i++) block[i] *= w;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) block[i * d + j] -= curvature * pulled[i] * pulled[j];
    }
    return block;
  });
}

function cost(checked: readonly CheckedObservation[], y: ArrayLike<number>, d: number, delta: number): number {
  let total = 0;
  for (const o of checked) {
    const r = radiusOf(o, y, d);
    total += r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
  }
  return total;
}

/**
 * Full Newton steps from the MM solution, each kept only if it does not raise the cost: MM's step-size
 * stopping rule can halt while still creeping, which would leave finite differences of the mode (and so
 * the sensitivity check) at the solver's tolerance rather than at rounding.
 */
function polish(checked: readonly CheckedObservation[], start: Float64Array, delta: number): Float64Array {
  const d = start.length;
  let y = start;
  let current = cost(checked, y, d, delta);
  let gradient = gradientAt(checked, y, delta);
  for (let iteration = 0; iteration < 5; iteration++) {
    const hessian = sumBlocks(hessianBlocks(checked, y, delta), d);
    const l = tryCholesky(hessian, d, 1e-12);
    if (l === null) break;
    const step = choleskySolve(l, d, gradient);
    const candidate = Float64Array.from(y, (v, i) => v - step[i]);
    const value = cost(checked, candidate, d, delta);
    const candidateGradient = gradientAt(checked, candidate, delta);
    // At the optimum cost differences drown in rounding, so a step that keeps the cost within rounding
    // and shrinks the gradient counts as progress.
    const lower = value <= current || (value <= current + 1e-13 * Math.abs(current) && norm(candidateGradient) < norm(gradient));
    if (!lower) break;
    y = candidate;
    current = value;
    gradient = candidateGradient;
  }
  return y;
}

function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}

function gradientAt(checked: readonly CheckedObservation[], y: ArrayLike<number>, delta: number): Float64Array {
  const d = y.length;
  const gradient = new Float64Array(d);
  for (const o of checked) {
    const r = radiusOf(o, y, d);
    const w = r <= delta ? 1 : delta / r;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) gradient[i] += w * o.precision[i * d + j] * (y[j] - o.mean[j]);
  }
  return gradient;
}

/** Whether a symmetric Hessian is positive definite by the docs/spec.md §9 ratio test. */
export function isUniqueOptimum(hessian: ArrayLike<number>, d: number): boolean {
  const { values } = symmetricEigen(hessian, d);
  return values[0] > 0 && values[d - 1] > UNIQUENESS_RATIO * values[0];
}

function sumBlocks(blocks: readonly Float64Array[], d: number): Float64Array {
  const total = new Float64Array(d * d);
  for (const block of blocks) for (let i = 0; i < d * d; i++) total[i] += block[i];
  return total;
}

function scaledIdentity(d: number, value: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) out[i * d + i] = value;
  return out;
}

/**
 * n identical observations are exactly one Huber distribution with Λ' = nΛ and δ' = √n·δ (the product of
 * n equal factors is exp(−n·h_δ(r)) = exp(−h_{√n δ}(√n r))), so everything has a closed form; n = 1 is
 * "one observation returns itself".
 */
function fuseIdentical(observation: CheckedObservation, n: number, d: number, options: FusionOptions): FusedPoint {
  const deltaPrime = Math.sqrt(n) * options.delta;
  const kappaPrime = huberConstants(d, deltaPrime).kappa;
  const shrink = kappaPrime / (n * huberConstants(d, options.delta).kappa);
  const covariance = Float64Array.from(observation.covariance, (v) => (n === 1 ? v : v * shrink));
  return {
    mean: Float64Array.from(observation.mean),
    mode: Float64Array.from(observation.mean),
    covariance,
    region: { level: options.level, radius: cachedRadialQuantile(d, deltaPrime, options.level) / Math.sqrt(kappaPrime) },
    regions: (options.levels ?? []).map((level) => ({
      level,
      radius: cachedRadialQuantile(d, deltaPrime, level) / Math.sqrt(kappaPrime),
    })),
    iterations: 0,
    converged: true,
    observations: Array.from({ length: n }, () => ({ weight: 1, mahalanobis: 0, outlier: false })),
    sensitivities: options.sensitivities === true ? Array.from({ length: n }, () => scaledIdentity(d, 1 / n)) : null,
  };
}

export function fusePoint(observations: readonly GaussianObservation[], options: FusionOptions): FusedPoint {
  if (options === null || typeof options !== 'object') throw new EvidenceError('options must be an object', 'options');
  checkDelta(options.delta);
  checkLevel(options.level);
  (options.levels ?? []).forEach((extra, i) => checkLevel(extra, `levels[${i}]`));
  const { delta, level } = options;
  const { d, checked } = checkObservations(observations, delta);
  if (identical(checked)) return fuseIdentical(checked[0], checked.length, d, options);
  const k = huberConstants(d, delta).kappa;
  const factors = checked.map((o) => factorOf(o, d, k));
  const distributions: HuberDistribution[] = checked.map((o) => ({
    dimension: d,
    delta,
    mean: o.mean,
    precision: o.precision,
    covariance: o.covariance,
  }));

  // The frame of the first pass: some ML point and κ(Σ wᵢΛᵢ)⁻¹ there, which is within a small factor of
  // the posterior covariance (docs/spec.md §9 measures 1.8× too large for two equal observations).
  const rough = fuseMl(distributions, { maxIterations: 50 });
  const weighted = new Float64Array(d * d);
  for (const o of checked) {
    const r = radiusOf(o, rough.point, d);
    const w = r <= delta ? 1 : delta / r;
    for (let i = 0; i < d * d; i++) weighted[i] += w * o.precision[i];
  }
  const frameCovariance = invertSpd(weighted, d);
  for (let i = 0; i < d * d; i++) frameCovariance[i] *= k;
  const quadrature = options.quadrature ?? defaultQuadrature(d);
  // Two passes: a rough one places the frame, the accurate one in the posterior's own whitened frame.
  const frameRule = { ...FRAME_QUADRATURE, directions: d === 2 ? 16 : 6 };
  const first = integratePosterior(d, delta, factors, { center: rough.point, scale: cholesky(frameCovariance, d) }, frameRule);
  const extraLevels = options.levels ?? [];
  const second = integratePosterior(d, delta, factors, { center: first.mean, scale: cholesky(first.covariance, d) }, quadrature, [
    level,
    ...extraLevels,
  ]);
  const { mean, covariance } = second;
  const [radius, ...extraRadii] = second.radii as [number, ...number[]];

  let scale = 0;
  for (let i = 0; i < d; i++) scale = Math.max(scale, Math.sqrt(covariance[i * d + i]));
  const solved = fuseMl(distributions, { start: mean, tolerance: 1e-11 * scale, maxIterations: MODE_MAX_ITERATIONS });
  const point = polish(checked, solved.point, delta);
  const blocks = hessianBlocks(checked, point, delta);
  const hessian = sumBlocks(blocks, d);
  const mode = isUniqueOptimum(hessian, d) ? point : null;
  let sensitivities: Float64Array[] | null = null;
  if (options.sensitivities === true && mode !== null) {
    // ∇f(mode; μ) = 0 with ∂∇fᵢ/∂μᵢ = −Hᵢ gives ∂mode/∂μᵢ = H⁻¹Hᵢ (seed 002: one Newton step at the minimum).
    const inverse = invertSpd(hessian, d);
    sensitivities = blocks.map((block) => {
      const out = new Float64Array(d * d);
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) for (let m = 0; m < d; m++) out[i * d + j] += inverse[i * d + m] * block[m * d + j];
      return out;
    });
  }
  return {
    mean,
    mode,
    covariance,
    region: { level, radius },
    regions: extraLevels.map((extra, i) => ({ level: extra, radius: extraRadii[i] })),
    iterations: solved.iterations,
    converged: solved.converged,
    observations: diagnose(checked, mean, d, delta),
    sensitivities,
  };
}
