/**
 * Triangulation of one point seen by calibrated cameras (docs/spec.md §9): the ML point of Σ_c of each camera's
 * Huber (or mixture) factor on its distorted-pixel observation, and the flat-prior posterior over X with
 * each projection linearized at the reported point, integrated numerically.
 */

import type { Camera } from './camera.js';
import { checkCovariance, checkDelta, checkLevel, checkVector, isList } from './evidence-checks.js';
import { EvidenceError } from './fusion-errors.js';
import { cholesky, invertSpd, symmetricEigen, tryCholesky } from './linalg.js';
import {
  ImproperPosteriorError,
  integratePosterior,
  type PosteriorFactor,
  type QuadratureSettings,
} from './posterior-integration.js';
import { kappa, radialQuantile } from './radial.js';
import { OUTLIER_LEVEL, UNIQUENESS_RATIO } from './point-fusion.js';

export interface CameraObservation {
  camera: string;
  mean: ArrayLike<number>;
  covariance: ArrayLike<number>;
  alternatives?: { mean: ArrayLike<number>; covariance: ArrayLike<number>; prior: number }[];
}

export interface TriangulationOptions {
  delta: number;
  level: number;
  sensitivities?: boolean;
  /** Further levels whose regions (same position and covariance) come back in `regions`. */
  levels?: readonly number[];
  quadrature?: QuadratureSettings;
}

export interface CameraDiagnostics {
  camera: string;
  weight: number;
  mahalanobis: number;
  outlier: boolean;
  component: number;
  reprojection: Float64Array;
  reprojectionError: number;
}

export interface TriangulatedPoint {
  position: Float64Array;
  mode: Float64Array | null;
  /** 3 × 3 row-major. */
  covariance: Float64Array;
  region: { level: number; radius: number };
  /** The regions of `options.levels`, in that order. */
  regions: { level: number; radius: number }[];
  iterations: number;
  converged: boolean;
  cameras: CameraDiagnostics[];
  /** ∂mode/∂μ_c per observation (its own mean, component 0), each 3 × 2 row-major. */
  sensitivities: Float64Array[] | null;
}

/**
 * 72 rays of 4-node panels: the posterior of a few cameras is close to elliptical in the frame of
 * its own covariance, and the region's level is checked to ±0.03, so about 1e-3 relative is plenty.
 */
export const TRIANGULATION_QUADRATURE: QuadratureSettings = { directions: 6, radialNodes: 4, maxPanel: 2, tailCost: 30 };
/** Above this many assignments of alternatives, starts are the DLT plus each camera switched alone. */
const MAX_ASSIGNMENTS = 64;
const MAX_SOLVER_ITERATIONS = 200;
const MAX_FIXED_POINT_ITERATIONS = 50;
/** docs/spec.md §9: the position's fixed point stops below this share of the mean camera distance. */
const FIXED_POINT_TOLERANCE = 1e-9;
/** Energy gap beyond which a mixture component is left out of the quadrature. */
const NEGLIGIBLE_COMPONENT = 80;

interface Component {
  mean: Float64Array;
  /** W with WᵀW = Λ = κ·Σ⁻¹ (2 × 2). */
  whitening: Float64Array;
  /** log(prior·|A|) = log prior + log κ − ½ log det Σ. */
  logWeight: number;
}

interface View {
  index: number;
  camera: Camera;
  components: Component[];
}

function whiteningOf(covariance: Float64Array, k: number): { whitening: Float64Array; logDeterminant: number } {
  const c = cholesky(covariance, 2);
  // W = √κ·C⁻¹ for the lower-triangular C with Σ = C·Cᵀ.
  const root = Math.sqrt(k);
  const whitening = Float64Array.from([root / c[0], 0, (-root * c[2]) / (c[0] * c[3]), root / c[3]]);
  return { whitening, logDeterminant: 2 * Math.log(c[0] * c[3]) };
}

function checkViews(cameras: ReadonlyMap<string, Camera>, observations: readonly CameraObservation[], delta: number): View[] {
  if (!isList(observations)) throw new EvidenceError('observations must be an array', 'observations');
  if (observations.length < 2) {
    throw new EvidenceError(`a point needs observations from at least two cameras, got ${observations.length}`, 'observations');
  }
  const k = kappa(2, delta);
  const seen = new Set<string>();
  return observations.map((observation, index) => {
    const path = `observations[${index}]`;
    if (observation === null || typeof observation !== 'object') throw new EvidenceError(`${path} must be an object`, path);
    const camera = cameras.get(observation.camera);
    if (camera === undefined)
      throw new EvidenceError(`${path}.camera: unknown camera ${JSON.stringify(observation.camera)}`, `${path}.camera`);
    if (seen.has(observation.camera)) {
      throw new EvidenceError(`${path}.camera: camera ${observation.camera} already observed this point`, `${path}.camera`);
    }
    seen.add(observation.camera);
    const alternatives = observation.alternatives ?? [];
    if (!isList(alternatives)) throw new EvidenceError(`${path}.alternatives must be an array`, `${path}.alternatives`);
    let priorSum = 0;
    alternatives.forEach((alternative, a) => {
      const prior = alternative?.prior;
      if (typeof prior !== 'number' || !(prior > 0 && prior < 1)) {
        throw new EvidenceError(
          `${path}.alternatives[${a}].prior must lie in (0, 1), got ${prior}`,
          `${path}.alternatives[${a}].prior`,
        );
      }
      priorSum += prior;
    });
    if (!(priorSum < 1))
      throw new EvidenceError(
        `${path}.alternatives: priors sum to ${priorSum}, which leaves nothing for the observation`,
        `${path}.alternatives`,
      );
    const entries = [
      { mean: observation.mean, covariance: observation.covariance, prior: 1 - priorSum, at: path },
      ...alternatives.map((alternative, a) => ({ ...alternative, at: `${path}.alternatives[${a}]` })),
    ];
    const components = entries.map(({ mean, covariance, prior, at }) => {
      const checkedMean = checkVector(mean, 2, `${at}.mean`);
      const { whitening, logDeterminant } = whiteningOf(checkCovariance(covariance, 2, `${at}.covariance`), k);
      return { mean: checkedMean, whitening, logWeight: Math.log(prior) + Math.log(k) - 0.5 * logDeterminant };
    });
    return { index, camera, components };
  });
}

/** Per-component quantities at X that the cost, its derivatives and the diagnostics share. */
interface ComponentState {
  /** e = W(π(X) − μ). */
  residual: Float64Array;
  radius: number;
  weight: number;
  /** h_δ(r) − logWeight. */
  energy: number;
  /** ∇_X h = w·(WJ)ᵀe. */
  gradient: Float64Array;
  /** (WJ), 2 × 3. */
  whitenedJacobian: Float64Array;
}

function componentState(component: Component, point: Float64Array, jacobian: Float64Array, delta: number): ComponentState {
  const w = component.whitening;
  const dx = point[0] - component.mean[0];
  const dy = point[1] - component.mean[1];
  const residual = Float64Array.from([w[0] * dx + w[1] * dy, w[2] * dx + w[3] * dy]);
  const radius = Math.hypot(residual[0], residual[1]);
  const weight = radius <= delta ? 1 : delta / radius;
  const energy = (radius <= delta ? 0.5 * radius * radius : delta * (radius - 0.5 * delta)) - component.logWeight;
  const whitenedJacobian = new Float64Array(6);
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 3; j++) whitenedJacobian[i * 3 + j] = w[i * 2] * jacobian[j] + w[i * 2 + 1] * jacobian[3 + j];
  const gradient = new Float64Array(3);
  for (let j = 0; j < 3; j++) gradient[j] = weight * (whitenedJacobian[j] * residual[0] + whitenedJacobian[3 + j] * residual[1]);
  return { residual, radius, weight, energy, gradient, whitenedJacobian };
}

/** Responsibilities softmax(−energy) and the camera's cost −log Σ exp(−energy). */
function responsibilities(states: readonly ComponentState[]): { gamma: Float64Array; cost: number } {
  let best = Infinity;
  for (const s of states) best = Math.min(best, s.energy);
  const gamma = Float64Array.from(states, (s) => Math.exp(best - s.energy));
  let sum = 0;
  for (const g of gamma) sum += g;
  for (let k = 0; k < gamma.length; k++) gamma[k] /= sum;
  return { gamma, cost: best - Math.log(sum) };
}

/**
 * The Hessian of h_δ(‖e‖) through the projection's first derivatives: w·BᵀB less the second-order term
 * (δ/r³)(Bᵀe)(Bᵀe)ᵀ beyond δ (seed 003 §2). It is positive semi-definite: (δ/r)·Bᵀ(I − eeᵀ/r²)B.
 */
function addGaussNewton(out: Float64Array, s: ComponentState, delta: number, scale: number): void {
  const b = s.whitenedJacobian;
  const beyond = s.radius > delta;
  const curvature = beyond ? delta / (s.radius * s.radius * s.radius) : 0;
  const bte = [0, 1, 2].map((j) => b[j] * s.residual[0] + b[3 + j] * s.residual[1]);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      out[i * 3 + j] += scale * (s.weight * (b[i] * b[j] + b[3 + i] * b[3 + j]) - curvature * bte[i] * bte[j]);
    }
  }
}

interface Evaluation {
  cost: number;
  gradient: Float64Array;
  /** Hessian-sum-mixture Gauss–Newton matrix (positive semi-definite). */
  hessian: Float64Array;
}

function evaluate(views: readonly View[], X: Float64Array, delta: number): Evaluation {
  let cost = 0;
  const gradient = new Float64Array(3);
  const hessian = new Float64Array(9);
  for (const view of views) {
    const { point, jacobian } = view.camera.projectWithJacobian(X);
    const states = view.components.map((c) => componentState(c, point, jacobian, delta));
    if (states.length === 1) {
      cost += states[0].energy + view.components[0].logWeight;
      for (let j = 0; j < 3; j++) gradient[j] += states[0].gradient[j];
      addGaussNewton(hessian, states[0], delta, 1);
      continue;
    }
    const { gamma, cost: viewCost } = responsibilities(states);
    cost += viewCost;
    states.forEach((s, k) => {
      for (let j = 0; j < 3; j++) gradient[j] += gamma[k] * s.gradient[j];
      // Seed 003 §3: weighting each component's PSD matrix by its responsibility and dropping the
      // mixture's negative-definite spread term keeps the Gauss–Newton matrix PSD.
      addGaussNewton(hessian, s, delta, gamma[k]);
    });
  }
  return { cost, gradient, hessian };
}

function totalCost(views: readonly View[], X: Float64Array, delta: number): number {
  let cost = 0;
  for (const view of views) {
    const point = view.camera.project(X);
    const states = view.components.map((c) => componentState(c, point, new Float64Array(6), delta));
    cost += states.length === 1 ? states[0].energy + view.components[0].logWeight : responsibilities(states).cost;
  }
  return cost;
}

function meanCameraDistance(views: readonly View[], X: ArrayLike<number>): number {
  let sum = 0;
  for (const view of views)
    sum += Math.hypot(X[0] - view.camera.center[0], X[1] - view.camera.center[1], X[2] - view.camera.center[2]);
  return sum / views.length;
}

interface Solution {
  point: Float64Array;
  cost: number;
  iterations: number;
  converged: boolean;
}

/**
 * Robust Gauss–Newton with the second-order term, damped Levenberg–Marquardt style: a step is taken only
 * when it lowers the exact cost, so the cost never increases.
 */
function minimize(views: readonly View[], start: Float64Array, delta: number): Solution {
  let X = Float64Array.from(start);
  let current = evaluate(views, X, delta);
  let damping = 0;
  let iterations = 0;
  let converged = false;
  const scale = meanCameraDistance(views, X);
  while (iterations < MAX_SOLVER_ITERATIONS) {
    let accepted = false;
    let stepLength = 0;
    for (let attempt = 0; attempt < 40; attempt++) {
      const system = Float64Array.from(current.hessian);
      let trace = 0;
      for (let i = 0; i < 3; i++) trace += system[i * 4];
      for (let i = 0; i < 3; i++) system[i * 4] += damping * Math.max(system[i * 4], 1e-12 * trace);
      const l = tryCholesky(system, 3, 1e-14);
      if (l === null) {
        damping = damping === 0 ? 1e-6 : damping * 10;
        continue;
      }
      const step = solveCholesky(l, current.gradient);
      const candidate = Float64Array.from(X, (v, i) => v - step[i]);
      stepLength = Math.hypot(step[0], step[1], step[2]);
      const cost = totalCost(views, candidate, delta);
      if (cost <= current.cost) {
        X = candidate;
        accepted = true;
        damping = damping / 10 < 1e-9 ? 0 : damping / 10;
        break;
      }
      damping = damping === 0 ? 1e-6 : damping * 10;
      if (stepLength < 1e-14 * scale) break;
    }
    if (!accepted) {
      converged = true;
      break;
    }
    iterations++;
    current = evaluate(views, X, delta);
    if (stepLength < 1e-13 * scale) {
      converged = true;
      break;
    }
  }
  // Near the optimum cost differences drown in rounding and LM stops; Newton steps that keep the cost
  // within rounding and shrink the gradient take the point the rest of the way, which is what makes
  // finite differences of the mode (and the sensitivity check against them) meaningful.
  for (let polish = 0; polish < 3; polish++) {
    const l = tryCholesky(current.hessian, 3, 1e-14);
    if (l === null) break;
    const step = solveCholesky(l, current.gradient);
    const candidate = Float64Array.from(X, (v, i) => v - step[i]);
    const next = evaluate(views, candidate, delta);
    const gradientNorm = Math.hypot(current.gradient[0], current.gradient[1], current.gradient[2]);
    const nextNorm = Math.hypot(next.gradient[0], next.gradient[1], next.gradient[2]);
    if (!(next.cost <= current.cost + 1e-13 * Math.abs(current.cost) && nextNorm < gradientNorm)) break;
    X = candidate;
    current = next;
  }
  return { point: X, cost: current.cost, iterations, converged };
}

function solveCholesky(l: Float64Array, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(3);
  for (let i = 0; i < 3; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * 3 + k] * y[k];
    y[i] = sum / l[i * 3 + i];
  }
  for (let i = 2; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < 3; k++) sum -= l[k * 3 + i] * y[k];
    y[i] = sum / l[i * 3 + i];
  }
  return y;
}

interface DltInput {
  camera: Camera;
  mean: ArrayLike<number>;
  whitening: Float64Array | null;
}

function dlt(inputs: readonly DltInput[]): Float64Array {
  // Hartley's normalization: world coordinates about the camera centres' centroid, in units of their spread.
  const origin = new Float64Array(3);
  for (const { camera } of inputs) for (let i = 0; i < 3; i++) origin[i] += camera.center[i] / inputs.length;
  let spread = 0;
  for (const { camera } of inputs)
    spread += Math.hypot(camera.center[0] - origin[0], camera.center[1] - origin[1], camera.center[2] - origin[2]);
  spread = spread / inputs.length || 1;
  let X: Float64Array | null = null;
  // Twice: the second pass divides each camera's rows by its depth at the first solution, so that the
  // algebraic residual becomes the pixel residual that the covariance whitens (Hartley & Sturm's iteration).
  for (let pass = 0; pass < (inputs.some((x) => x.whitening !== null) ? 2 : 1); pass++) {
    const normal = new Float64Array(16);
    for (const { camera, mean, whitening } of inputs) {
      const pixel = camera.undistort(mean);
      const p = camera.linear;
      const rows: number[][] = [0, 1].map((r) => {
        const row = new Array<number>(4);
        for (let j = 0; j < 4; j++) row[j] = pixel[r] * p[8 + j] - p[r * 4 + j];
        // Into normalized world coordinates: X = origin + spread·X̃.
        const constant = row[3] + row[0] * origin[0] + row[1] * origin[1] + row[2] * origin[2];
        return [row[0] * spread, row[1] * spread, row[2] * spread, constant];
      });
      let depth = 1;
      if (X !== null) depth = Math.abs(p[8] * X[0] + p[9] * X[1] + p[10] * X[2] + p[11]) || 1;
      const weighted =
        whitening === null
          ? rows
          : [0, 1].map((i) => rows[0].map((_, j) => (whitening[i * 2] * rows[0][j] + whitening[i * 2 + 1] * rows[1][j]) / depth));
      for (const row of weighted) for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) normal[i * 4 + j] += row[i] * row[j];
    }
    let norm = 0;
    for (let i = 0; i < 16; i++) norm = Math.max(norm, Math.abs(normal[i]));
    for (let i = 0; i < 16; i++) normal[i] /= norm;
    const { vectors } = symmetricEigen(normal, 4);
    const h = [vectors[3], vectors[7], vectors[11], vectors[15]];
    X = Float64Array.from([0, 1, 2], (i) => origin[i] + (spread * h[i]) / h[3]);
  }
  return X as Float64Array;
}

/**
 * Linear triangulation: covariance-weighted (each camera's two rows whitened by its Λ^½ and divided by
 * its depth at a first solution) unless `weighted` is false, which gives the plain DLT baseline.
 */
export function triangulateDlt(
  cameras: ReadonlyMap<string, Camera>,
  observations: readonly CameraObservation[],
  options: { weighted?: boolean } = {},
): Float64Array {
  const views = checkViews(cameras, observations, 1);
  return dlt(
    views.map((v) => ({
      camera: v.camera,
      mean: v.components[0].mean,
      whitening: options.weighted === false ? null : v.components[0].whitening,
    })),
  );
}

function assignments(views: readonly View[]): number[][] {
  const sizes = views.map((v) => v.components.length);
  const total = sizes.reduce((a, b) => a * b, 1);
  if (total <= MAX_ASSIGNMENTS) {
    const out: number[][] = [];
    for (let index = 0; index < total; index++) {
      let rest = index;
      out.push(
        sizes.map((size) => {
          const k = rest % size;
          rest = Math.floor(rest / size);
          return k;
        }),
      );
    }
    return out;
  }
  const out = [sizes.map(() => 0)];
  sizes.forEach((size, c) => {
    for (let k = 1; k < size; k++) out.push(sizes.map((_, i) => (i === c ? k : 0)));
  });
  return out;
}

/** The full Hessian of the summed cost at X: exact mixture Hessian with the projection's second derivatives. */
function fullHessian(
  views: readonly View[],
  X: Float64Array,
  delta: number,
): { hessian: Float64Array; crossTerms: Float64Array[] } {
  const hessian = new Float64Array(9);
  const crossTerms: Float64Array[] = [];
  const step = 1e-6 * meanCameraDistance(views, X);
  for (const view of views) {
    const { point, jacobian } = view.camera.projectWithJacobian(X);
    // ∂²π by central differences of the analytic Jacobian: O(step²) ≈ 1e-12 relative error, far below
    // the 1e-3 that dropping the term would cost (docs/spec.md §9).
    const second: Float64Array[] = [0, 1, 2].map((j) => {
      const plus = Float64Array.from(X);
      const minus = Float64Array.from(X);
      plus[j] += step;
      minus[j] -= step;
      const jp = view.camera.projectWithJacobian(plus).jacobian;
      const jm = view.camera.projectWithJacobian(minus).jacobian;
      return Float64Array.from(jp, (v, i) => (v - jm[i]) / (2 * step));
    });
    const states = view.components.map((c) => componentState(c, point, jacobian, delta));
    const { gamma } = states.length === 1 ? { gamma: Float64Array.of(1) } : responsibilities(states);
    const meanGradient = new Float64Array(3);
    states.forEach((s, k) => {
      for (let j = 0; j < 3; j++) meanGradient[j] += gamma[k] * s.gradient[j];
    });
    states.forEach((s, k) => {
      addGaussNewton(hessian, s, delta, gamma[k]);
      // Σᵢ (w·Wᵀe)ᵢ ∂²πᵢ/∂X∂X: the projection's curvature, weighted by the pixel-space force.
      const w = view.components[k].whitening;
      const force = [
        s.weight * (w[0] * s.residual[0] + w[2] * s.residual[1]),
        s.weight * (w[1] * s.residual[0] + w[3] * s.residual[1]),
      ];
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) {
          // second[b] holds ∂J/∂X_b: entry (i, a) is ∂²πᵢ/∂X_a∂X_b.
          hessian[a * 3 + b] += gamma[k] * (force[0] * second[b][a] + force[1] * second[b][3 + a]);
          hessian[a * 3 + b] -= gamma[k] * (s.gradient[a] - meanGradient[a]) * (s.gradient[b] - meanGradient[b]);
        }
      }
    });
    // ∂G/∂μ₀ (3 × 2): −γ₀·JᵀW₀ᵀM₀W₀ + γ₀·(g₀ − ḡ)·(w₀W₀ᵀe₀)ᵀ, with M₀ = w₀I − (δ/r³)e₀e₀ᵀ beyond δ.
    const s0 = states[0];
    const w0 = view.components[0].whitening;
    const curvature = s0.radius > delta ? delta / (s0.radius * s0.radius * s0.radius) : 0;
    const e = s0.residual;
    const m = [
      s0.weight - curvature * e[0] * e[0],
      -curvature * e[0] * e[1],
      -curvature * e[1] * e[0],
      s0.weight - curvature * e[1] * e[1],
    ];
    // M₀W₀ (2 × 2), then (W₀J)ᵀ·(M₀W₀) (3 × 2).
    const mw = [
      m[0] * w0[0] + m[1] * w0[2],
      m[0] * w0[1] + m[1] * w0[3],
      m[2] * w0[0] + m[3] * w0[2],
      m[2] * w0[1] + m[3] * w0[3],
    ];
    const pull = [s0.weight * (w0[0] * e[0] + w0[2] * e[1]), s0.weight * (w0[1] * e[0] + w0[3] * e[1])];
    const cross = new Float64Array(6);
    const b = s0.whitenedJacobian;
    for (let a = 0; a < 3; a++) {
      for (let c = 0; c < 2; c++) {
        cross[a * 2 + c] =
          -gamma[0] * (b[a] * mw[c] + b[3 + a] * mw[2 + c]) + gamma[0] * (s0.gradient[a] - meanGradient[a]) * pull[c];
      }
    }
    crossTerms.push(cross);
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const v = 0.5 * (hessian[i * 3 + j] + hessian[j * 3 + i]);
      hessian[i * 3 + j] = v;
      hessian[j * 3 + i] = v;
    }
  }
  return { hessian, crossTerms };
}

/** Each camera's factor with its projection linearized at X̂: residual W(π(X̂) + J(X − X̂) − μ). */
function linearizedFactors(views: readonly View[], at: Float64Array, delta: number): PosteriorFactor[] {
  return views.map((view) => {
    const { point, jacobian } = view.camera.projectWithJacobian(at);
    const energies = view.components.map((c) => componentState(c, point, jacobian, delta).energy);
    const lowest = Math.min(...energies);
    // A component e^{−80} below the best at X̂ cannot matter where the posterior has mass (its rays stop
    // where the cost has risen 30), and dropping it saves an exp and a log per quadrature node.
    const kept = view.components.filter((_, k) => energies[k] - lowest <= NEGLIGIBLE_COMPONENT);
    return kept.map((component) => {
      const w = component.whitening;
      const map = new Float64Array(6);
      const offset = new Float64Array(2);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) map[i * 3 + j] = w[i * 2] * jacobian[j] + w[i * 2 + 1] * jacobian[3 + j];
        let shift = 0;
        for (let j = 0; j < 3; j++) shift += map[i * 3 + j] * at[j];
        offset[i] = shift - (w[i * 2] * (point[0] - component.mean[0]) + w[i * 2 + 1] * (point[1] - component.mean[1]));
      }
      return { map, offset, logWeight: component.logWeight };
    });
  });
}

function diagnose(views: readonly View[], position: Float64Array, delta: number): CameraDiagnostics[] {
  const threshold = radialQuantile(2, delta, OUTLIER_LEVEL);
  return views.map((view) => {
    const reprojection = view.camera.project(position);
    const states = view.components.map((c) => componentState(c, reprojection, new Float64Array(6), delta));
    const { gamma } = states.length === 1 ? { gamma: Float64Array.of(1) } : responsibilities(states);
    let component = 0;
    for (let k = 1; k < gamma.length; k++) if (gamma[k] > gamma[component]) component = k;
    const { radius } = states[component];
    const own = view.components[0].mean;
    return {
      camera: view.camera.name,
      component,
      mahalanobis: radius,
      weight: radius <= delta ? 1 : delta / radius,
      outlier: radius > threshold,
      reprojection,
      reprojectionError: Math.hypot(reprojection[0] - own[0], reprojection[1] - own[1]),
    };
  });
}

export function triangulatePoint(
  cameras: ReadonlyMap<string, Camera>,
  observations: readonly CameraObservation[],
  options: TriangulationOptions,
): TriangulatedPoint {
  if (options === null || typeof options !== 'object') throw new EvidenceError('options must be an object', 'options');
  checkDelta(options.delta);
  checkLevel(options.level);
  (options.levels ?? []).forEach((extra, i) => checkLevel(extra, `levels[${i}]`));
  const { delta, level } = options;
  const views = checkViews(cameras, observations, delta);

  let best: Solution | null = null;
  const starts: Float64Array[] = [];
  for (const assignment of assignments(views)) {
    const start = dlt(
      views.map((v, c) => ({
        camera: v.camera,
        mean: v.components[assignment[c]].mean,
        whitening: v.components[assignment[c]].whitening,
      })),
    );
    if (!start.every(Number.isFinite)) continue;
    const scale = meanCameraDistance(views, start);
    // Different assignments often give the same start (a camera's alternative lying on its epipolar line).
    if (starts.some((s) => Math.hypot(s[0] - start[0], s[1] - start[1], s[2] - start[2]) < 1e-9 * scale)) continue;
    starts.push(start);
    const solution = minimize(views, start, delta);
    if (best === null || solution.cost < best.cost) best = solution;
  }
  if (best === null)
    throw new EvidenceError(
      'the cameras’ rays do not determine a point (the linear triangulation is at infinity)',
      'observations',
    );
  for (const view of views) {
    if (!(view.camera.depth(best.point) > 0)) {
      throw new EvidenceError(`the best triangulation lies behind camera ${view.camera.name}`, `observations[${view.index}]`);
    }
  }

  const { hessian, crossTerms } = fullHessian(views, best.point, delta);
  const { values } = symmetricEigen(hessian, 3);
  const unique = values[0] > 0 && values[2] > UNIQUENESS_RATIO * values[0];
  const mode = unique ? Float64Array.from(best.point) : null;
  let sensitivities: Float64Array[] | null = null;
  if (options.sensitivities === true && unique) {
    const inverse = invertSpd(hessian, 3);
    sensitivities = crossTerms.map((cross) => {
      const out = new Float64Array(6);
      for (let i = 0; i < 3; i++)
        for (let c = 0; c < 2; c++) for (let m = 0; m < 3; m++) out[i * 2 + c] -= inverse[i * 3 + m] * cross[m * 2 + c];
      return out;
    });
  }

  const quadrature = options.quadrature ?? TRIANGULATION_QUADRATURE;
  const extraLevels = options.levels ?? [];
  const tolerance = FIXED_POINT_TOLERANCE * meanCameraDistance(views, best.point);
  const integrate = (at: Float64Array, center: Float64Array, scale: Float64Array, withLevel: boolean) => {
    try {
      return integratePosterior(
        3,
        delta,
        linearizedFactors(views, at, delta),
        { center, scale },
        quadrature,
        withLevel ? [level, ...extraLevels] : [],
      );
    } catch (error) {
      if (error instanceof ImproperPosteriorError) {
        throw new EvidenceError('the cameras’ rays are parallel at the point: its depth is not determined', 'observations');
      }
      throw error;
    }
  };
  // First frame: the Gauss–Newton information at the optimum, inflated by κ like a single observation's.
  const information = evaluate(views, best.point, delta).hessian;
  const frameCovariance = invertSpd(information, 3);
  for (let i = 0; i < 9; i++) frameCovariance[i] *= kappa(2, delta);
  const rough = integrate(best.point, best.point, cholesky(frameCovariance, 3), false);
  // With the frame held fixed the quadrature is a smooth map of the linearization point, so the fixed
  // point converges below its own rounding instead of jittering by the rule's error.
  const frameCenter = rough.mean;
  const frameScale = cholesky(rough.covariance, 3);
  let at: Float64Array = Float64Array.from(rough.mean);
  let final = rough;
  let move = Infinity;
  for (let iteration = 0; iteration < MAX_FIXED_POINT_ITERATIONS; iteration++) {
    // The iteration contracts by about σ/distance per step, so once a step is within 1000× of the
    // tolerance the next one is the last, and only that one needs the region.
    const last = move < 1000 * tolerance || iteration === MAX_FIXED_POINT_ITERATIONS - 1;
    final = integrate(at, frameCenter, frameScale, last);
    move = Math.hypot(final.mean[0] - at[0], final.mean[1] - at[1], final.mean[2] - at[2]);
    at = final.mean;
    if (move < tolerance && last) break;
  }
  const covariance = final.covariance;
  return {
    position: at,
    mode,
    covariance,
    region: { level, radius: final.radii[0] },
    regions: extraLevels.map((extra, i) => ({ level: extra, radius: final.radii[i + 1] })),
    iterations: best.iterations,
    converged: best.converged,
    cameras: diagnose(views, at, delta),
    sensitivities,
  };
}
