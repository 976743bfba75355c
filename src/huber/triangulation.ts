/**
 * Triangulation of one point seen by calibrated cameras (docs/spec.md §9): the ML point of Σ_c of each camera's
 * Huber (or mixture) factor on its distorted-pixel observation, and the flat-prior posterior over X with
 * each projection linearized at the reported point, integrated numerically.
 */

import type { Camera } from './camera.js';
import { checkCovariance, checkDelta, checkLevel, checkVector, isList } from './evidence-checks.js';
import { EvidenceError } from './fusion-errors.js';
import { cholesky, choleskySolveInto, invertSpd, smallestEigenvector, symmetricEigen, tryCholeskyInto } from './linalg.js';
import {
  ImproperPosteriorError,
  integratePosterior,
  type PosteriorFactor,
  type PosteriorSummary,
  type QuadratureSettings,
  RayEndCache,
} from './posterior-integration.js';
import { cachedRadialQuantile, huberConstants } from './radial.js';
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
 * 72 rays (6 Gauss–Legendre polar nodes × 12 azimuths) of 3-node panels ending 20 above the ray's lowest
 * cost. Worst cases against an independent box integration (docs/fusion-math.md, Cost): 1.7e-2 σ in the
 * mean, 2.4e-2 relative in the covariance and 4e-3 in the region's level over 24 linearized-camera
 * posteriors, and 8e-3 σ, 2.9e-2 and 2.9e-3 at 6 rig points; the median over 51 rig points is 2.7e-3 σ. 288 rays
 * with 5-node panels reach 1.5e-3 σ and 4e-3 (6e-4 at the rig points) but make the triangulation 4.9
 * times slower; Lebedev rules of 86 or 110 points were no more accurate per ray on these posteriors.
 */
export const TRIANGULATION_QUADRATURE: QuadratureSettings = { directions: 6, radialNodes: 3, maxPanel: 2, tailCost: 20 };
/** Above this many assignments of alternatives, starts are the DLT plus each camera switched alone. */
const MAX_ASSIGNMENTS = 64;
const MAX_SOLVER_ITERATIONS = 200;
/**
 * Levenberg–Marquardt's damping (a share of each diagonal entry). A first rejection used to retry at
 * 1e-6, 1e-5 and 1e-4, steps indistinguishable from the rejected one, and an accepted step divided the
 * damping by 10, so runs from far starts alternated a rejected trial at 1 with an accepted one at 10.
 * Starting at 1e-3 and relaxing by 5 took the bench from 342 trial costs and 156 iterations per point to
 * 193 and 111, with the same mode as before on 8 000 random two-minima instances; relaxing by 3 or 4
 * missed the global mode once in 4 000 (docs/fusion-math.md, Cost, round 3).
 */
const FIRST_DAMPING = 1e-3;
const DAMPING_RELIEF = 5;
const MAX_FIXED_POINT_ITERATIONS = 50;
/**
 * The best start is minimized until its step falls below this share of the camera distance (then
 * polished); every other start only to SCREENING_TOLERANCE, which is ample to rank optima whose costs
 * differ, and saves the half of the iterations that LM spends creeping below rounding.
 */
const MODE_TOLERANCE = 1e-13;
const SCREENING_TOLERANCE = 1e-9;
/** docs/spec.md §9: the position's fixed point stops below this share of the mean camera distance. */
const FIXED_POINT_TOLERANCE = 1e-9;
/**
 * The fixed point's contraction per step before one is measured: about σ/distance ≈ 1e-3, with the
 * margin of 2 that measured ones get too.
 */
const FIXED_POINT_CONTRACTION = 2e-3;
const NEGLIGIBLE_RESPONSIBILITY = 1e-18;
/** Energy gap beyond which a mixture component is left out of the quadrature. */
const NEGLIGIBLE_COMPONENT = 80;

interface Component {
  mean: Float64Array;
  /** W with WᵀW = Λ = κ·Σ⁻¹ (2 × 2). */
  whitening: Float64Array;
  /** log(prior·|A|) = log prior + log κ − ½ log det Σ. */
  logWeight: number;
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

/**
 * One camera's observation and the buffers its evaluation reuses: the solver evaluates each view
 * hundreds of times per point, and allocating per evaluation cost more than the arithmetic.
 */
interface View {
  index: number;
  camera: Camera;
  components: Component[];
  states: ComponentState[];
  gamma: Float64Array;
  point: Float64Array;
  jacobian: Float64Array;
}

/**
 * W = √κ·C⁻¹ for the lower-triangular C with Σ = C·Cᵀ, and log det Σ. Σ has passed checkCovariance, so
 * the closed-form 2 × 2 Cholesky (the same operations as linalg's) needs no checks of its own.
 */
function componentOf(mean: Float64Array, covariance: Float64Array, root: number, logPriorKappa: number): Component {
  const c0 = Math.sqrt(covariance[0]);
  const c2 = covariance[2] / c0;
  const c3 = Math.sqrt(covariance[3] - c2 * c2);
  const whitening = new Float64Array(4);
  whitening[0] = root / c0;
  whitening[2] = (-root * c2) / (c0 * c3);
  whitening[3] = root / c3;
  return { mean, whitening, logWeight: logPriorKappa - Math.log(c0 * c3) };
}

function emptyState(): ComponentState {
  return {
    residual: new Float64Array(2),
    radius: 0,
    weight: 1,
    energy: 0,
    gradient: new Float64Array(3),
    whitenedJacobian: new Float64Array(6),
  };
}

function checkViews(cameras: ReadonlyMap<string, Camera>, observations: readonly CameraObservation[], delta: number): View[] {
  if (!isList(observations)) throw new EvidenceError('observations must be an array', 'observations');
  if (observations.length < 2) {
    throw new EvidenceError(`a point needs observations from at least two cameras, got ${observations.length}`, 'observations');
  }
  const k = huberConstants(2, delta).kappa;
  const root = Math.sqrt(k);
  const logKappa = Math.log(k);
  const views: View[] = [];
  for (let index = 0; index < observations.length; index++) {
    const observation = observations[index];
    const path = `observations[${index}]`;
    if (observation === null || typeof observation !== 'object') throw new EvidenceError(`${path} must be an object`, path);
    const camera = cameras.get(observation.camera);
    if (camera === undefined)
      throw new EvidenceError(`${path}.camera: unknown camera ${JSON.stringify(observation.camera)}`, `${path}.camera`);
    for (let earlier = 0; earlier < index; earlier++) {
      if (observations[earlier].camera === observation.camera) {
        throw new EvidenceError(`${path}.camera: camera ${observation.camera} already observed this point`, `${path}.camera`);
      }
    }
    const alternatives = observation.alternatives ?? [];
    if (!isList(alternatives)) throw new EvidenceError(`${path}.alternatives must be an array`, `${path}.alternatives`);
    let priorSum = 0;
    for (let a = 0; a < alternatives.length; a++) {
      const prior = alternatives[a]?.prior;
      if (typeof prior !== 'number' || !(prior > 0 && prior < 1)) {
        throw new EvidenceError(
          `${path}.alternatives[${a}].prior must lie in (0, 1), got ${prior}`,
          `${path}.alternatives[${a}].prior`,
        );
      }
      priorSum += prior;
    }
    if (!(priorSum < 1))
      throw new EvidenceError(
        `${path}.alternatives: priors sum to ${priorSum}, which leaves nothing for the observation`,
        `${path}.alternatives`,
      );
    // log(prior·|A|) = log prior + log κ − ½ log det Σ (the Cholesky factor's diagonal product is √det Σ).
    const components: Component[] = [
      componentOf(
        checkVector(observation.mean, 2, `${path}.mean`),
        checkCovariance(observation.covariance, 2, `${path}.covariance`),
        root,
        Math.log(1 - priorSum) + logKappa,
      ),
    ];
    for (let a = 0; a < alternatives.length; a++) {
      const at = `${path}.alternatives[${a}]`;
      const alternative = alternatives[a];
      components.push(
        componentOf(
          checkVector(alternative.mean, 2, `${at}.mean`),
          checkCovariance(alternative.covariance, 2, `${at}.covariance`),
          root,
          Math.log(alternative.prior) + logKappa,
        ),
      );
    }
    views.push({
      index,
      camera,
      components,
      states: components.map(emptyState),
      gamma: new Float64Array(components.length),
      point: new Float64Array(2),
      jacobian: new Float64Array(6),
    });
  }
  return views;
}

/** Fills `s` at the projection `point`; with `jacobian` null only the residual, radius, weight and energy. */
function componentState(
  s: ComponentState,
  component: Component,
  point: Float64Array,
  jacobian: Float64Array | null,
  delta: number,
): void {
  const w = component.whitening;
  const dx = point[0] - component.mean[0];
  const dy = point[1] - component.mean[1];
  const e0 = w[0] * dx + w[1] * dy;
  const e1 = w[2] * dx + w[3] * dy;
  s.residual[0] = e0;
  s.residual[1] = e1;
  // Whitened residuals are far from overflow, and Math.hypot's guard costs a tenth of the solver.
  const radius = Math.sqrt(e0 * e0 + e1 * e1);
  const weight = radius <= delta ? 1 : delta / radius;
  s.radius = radius;
  s.weight = weight;
  s.energy = (radius <= delta ? 0.5 * radius * radius : delta * (radius - 0.5 * delta)) - component.logWeight;
  if (jacobian !== null) componentDerivatives(s, component, jacobian);
}

/** The whitened Jacobian and gradient of a state whose residual and weight are filled. */
function componentDerivatives(s: ComponentState, component: Component, jacobian: Float64Array): void {
  const w = component.whitening;
  const b = s.whitenedJacobian;
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) b[i * 3 + j] = w[i * 2] * jacobian[j] + w[i * 2 + 1] * jacobian[3 + j];
  const e0 = s.residual[0];
  const e1 = s.residual[1];
  for (let j = 0; j < 3; j++) s.gradient[j] = s.weight * (b[j] * e0 + b[3 + j] * e1);
}

/** Fills each component's state at X from one projection; with `withJacobian` false, the energies only. */
function viewStates(view: View, X: ArrayLike<number>, delta: number, withJacobian: boolean): void {
  const jacobian = withJacobian ? view.jacobian : null;
  view.camera.projectInto(X, view.point, jacobian);
  const { components, states } = view;
  for (let k = 0; k < components.length; k++) componentState(states[k], components[k], view.point, jacobian, delta);
}

/** Responsibilities softmax(−energy) into `gamma`; returns the camera's cost −log Σ exp(−energy). */
function responsibilities(states: readonly ComponentState[], gamma: Float64Array): number {
  let best = Infinity;
  for (const s of states) best = Math.min(best, s.energy);
  let sum = 0;
  for (let k = 0; k < states.length; k++) {
    // exp(0) = 1 for the leading term and exp(x) = 0 below x ≈ −745 are exact: only the rest need an exp.
    const gap = best - states[k].energy;
    gamma[k] = gap === 0 ? 1 : gap < -750 ? 0 : Math.exp(gap);
    sum += gamma[k];
  }
  for (let k = 0; k < states.length; k++) gamma[k] /= sum;
  return best - Math.log(sum);
}

/** The camera's cost at the states last filled: its single term, or the mixture's (filling `gamma`). */
function viewCost(view: View): number {
  const { states } = view;
  if (states.length === 1) {
    view.gamma[0] = 1;
    return states[0].energy + view.components[0].logWeight;
  }
  return responsibilities(states, view.gamma);
}

/**
 * The Hessian of h_δ(‖e‖) through the projection's first derivatives: w·BᵀB less the second-order term
 * (δ/r³)(Bᵀe)(Bᵀe)ᵀ beyond δ (seed 003 §2). It is positive semi-definite: (δ/r)·Bᵀ(I − eeᵀ/r²)B.
 */
function addGaussNewton(out: Float64Array, s: ComponentState, delta: number, scale: number): void {
  const b = s.whitenedJacobian;
  const beyond = s.radius > delta;
  const curvature = beyond ? delta / (s.radius * s.radius * s.radius) : 0;
  const e0 = s.residual[0];
  const e1 = s.residual[1];
  const bte0 = b[0] * e0 + b[3] * e1;
  const bte1 = b[1] * e0 + b[4] * e1;
  const bte2 = b[2] * e0 + b[5] * e1;
  for (let i = 0; i < 3; i++) {
    const btei = i === 0 ? bte0 : i === 1 ? bte1 : bte2;
    for (let j = 0; j < 3; j++) {
      const btej = j === 0 ? bte0 : j === 1 ? bte1 : bte2;
      out[i * 3 + j] += scale * (s.weight * (b[i] * b[j] + b[3 + i] * b[3 + j]) - curvature * btei * btej);
    }
  }
}

/**
 * The cost at X, and into `gradient` and `hessian` (overwritten) its gradient and the
 * Hessian-sum-mixture Gauss–Newton matrix (positive semi-definite).
 */
function evaluate(
  views: readonly View[],
  X: ArrayLike<number>,
  delta: number,
  gradient: Float64Array,
  hessian: Float64Array,
): number {
  let cost = 0;
  gradient.fill(0);
  hessian.fill(0);
  for (const view of views) {
    const { states, gamma, components } = view;
    view.camera.projectInto(X, view.point, view.jacobian);
    for (let k = 0; k < states.length; k++) componentState(states[k], components[k], view.point, null, delta);
    cost += viewCost(view);
    for (let k = 0; k < states.length; k++) {
      // A component this unlikely adds under a twentieth of an ulp to the gradient and matrix (its
      // Huber gradient is bounded like the leading one's), so its derivatives are not formed.
      if (gamma[k] < NEGLIGIBLE_RESPONSIBILITY) continue;
      const s = states[k];
      componentDerivatives(s, components[k], view.jacobian);
      for (let j = 0; j < 3; j++) gradient[j] += gamma[k] * s.gradient[j];
      // Seed 003 §3: weighting each component's PSD matrix by its responsibility and dropping the
      // mixture's negative-definite spread term keeps the Gauss–Newton matrix PSD.
      addGaussNewton(hessian, s, delta, gamma[k]);
    }
  }
  return cost;
}

/**
 * The cost at X alone (Levenberg–Marquardt's trial points). A mixture term e^{−40} below the leading 1
 * is under half an ulp of the sum it joins, so its exponential is not taken, nor the leading term's
 * e⁰, and no responsibilities are formed: the same sum with fewer exponentials.
 */
function totalCost(views: readonly View[], X: ArrayLike<number>, delta: number): number {
  let cost = 0;
  for (const view of views) {
    viewStates(view, X, delta, false);
    const { states } = view;
    if (states.length === 1) {
      cost += states[0].energy + view.components[0].logWeight;
      continue;
    }
    let best = Infinity;
    for (const s of states) best = Math.min(best, s.energy);
    let sum = 0;
    for (let k = 0; k < states.length; k++) {
      const gap = best - states[k].energy;
      sum += gap === 0 ? 1 : gap < -40 ? 0 : Math.exp(gap);
    }
    cost += best - Math.log(sum);
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

/** A local minimum already found, with the Gauss–Newton matrix there: the metric of its basin. */
interface Basin {
  point: Float64Array;
  cost: number;
  hessian: Float64Array;
}

/**
 * A run may stop in the bowl of a minimum found before when (1) its iterate lies within BASIN_RADIUS of
 * it in that minimum's Gauss–Newton metric (about that many of the Laplace approximation's standard
 * deviations), (2) its cost lies between the minimum's and BASIN_RADIUS²/2 above it, and (3) the
 * undamped Gauss–Newton step from the iterate lands within BASIN_CONTRACTION of that distance from the
 * minimum. (3) is the test that matters: a quadratically convergent step that contracts tenfold toward
 * the known minimum is in its Newton–Kantorovich region, where nothing else attracts the run; near a
 * second minimum, even 0.7 mm away with a lower cost, the step heads there instead and fails it. The
 * cost window (2) alone is not enough: that second minimum sat inside it. docs/fusion-math.md (Cost)
 * records the comparison with unpruned runs.
 */
const BASIN_RADIUS = 2;
const BASIN_CONTRACTION = 0.1;

function basinDistance(basin: Basin, X: ArrayLike<number>): number {
  const h = basin.hessian;
  const d0 = X[0] - basin.point[0];
  const d1 = X[1] - basin.point[1];
  const d2 = X[2] - basin.point[2];
  const squared = h[0] * d0 * d0 + h[4] * d1 * d1 + h[8] * d2 * d2 + 2 * (h[1] * d0 * d1 + h[2] * d0 * d2 + h[5] * d1 * d2);
  return Math.sqrt(Math.max(0, squared));
}

/** The basin the iterate X (with its cost, gradient and Gauss–Newton matrix) has entered, if any. */
function basinOf(basins: readonly Basin[], X: Float64Array, cost: number, scratch: SolverScratch): Basin | null {
  for (const basin of basins) {
    if (!(cost >= basin.cost && cost <= basin.cost + 0.5 * BASIN_RADIUS * BASIN_RADIUS)) continue;
    const distance = basinDistance(basin, X);
    if (!(distance <= BASIN_RADIUS)) continue;
    if (!tryCholeskyInto(scratch.hessian, 3, 1e-14, scratch.factor)) continue;
    choleskySolveInto(scratch.factor, 3, scratch.gradient, scratch.step);
    for (let i = 0; i < 3; i++) scratch.candidate[i] = X[i] - scratch.step[i];
    if (basinDistance(basin, scratch.candidate) <= BASIN_CONTRACTION * distance) return basin;
  }
  return null;
}

/** The buffers one minimization reuses across its iterations. */
class SolverScratch {
  readonly gradient = new Float64Array(3);
  readonly hessian = new Float64Array(9);
  readonly nextGradient = new Float64Array(3);
  readonly nextHessian = new Float64Array(9);
  readonly system = new Float64Array(9);
  readonly factor = new Float64Array(9);
  readonly step = new Float64Array(3);
  readonly candidate = new Float64Array(3);
}

/**
 * Robust Gauss–Newton with the second-order term, damped Levenberg–Marquardt style: a step is taken only
 * when it lowers the exact cost, so the cost never increases.
 */
function minimize(
  views: readonly View[],
  start: Float64Array,
  delta: number,
  scratch: SolverScratch,
  tolerance: number,
  basins: readonly Basin[] = [],
): Solution {
  const X = Float64Array.from(start);
  const { gradient, hessian, system, factor, step, candidate } = scratch;
  let cost = evaluate(views, X, delta, gradient, hessian);
  let damping = 0;
  let iterations = 0;
  let converged = false;
  const scale = meanCameraDistance(views, X);
  while (iterations < MAX_SOLVER_ITERATIONS) {
    let accepted = false;
    let stepLength = 0;
    for (let attempt = 0; attempt < 40; attempt++) {
      system.set(hessian);
      let trace = 0;
      for (let i = 0; i < 3; i++) trace += system[i * 4];
      for (let i = 0; i < 3; i++) system[i * 4] += damping * Math.max(system[i * 4], 1e-12 * trace);
      if (!tryCholeskyInto(system, 3, 1e-14, factor)) {
        damping = damping === 0 ? FIRST_DAMPING : damping * 10;
        continue;
      }
      choleskySolveInto(factor, 3, gradient, step);
      for (let i = 0; i < 3; i++) candidate[i] = X[i] - step[i];
      stepLength = Math.hypot(step[0], step[1], step[2]);
      const candidateCost = totalCost(views, candidate, delta);
      if (candidateCost <= cost) {
        X.set(candidate);
        accepted = true;
        damping = damping / DAMPING_RELIEF < 1e-9 ? 0 : damping / DAMPING_RELIEF;
        break;
      }
      damping = damping === 0 ? FIRST_DAMPING : damping * 10;
      if (stepLength < 1e-14 * scale) break;
    }
    if (!accepted) {
      converged = true;
      break;
    }
    iterations++;
    cost = evaluate(views, X, delta, gradient, hessian);
    if (stepLength < tolerance * scale) {
      converged = true;
      break;
    }
    const basin = basinOf(basins, X, cost, scratch);
    if (basin !== null) return { point: basin.point, cost: basin.cost, iterations, converged: true };
  }
  return { point: X, cost, iterations, converged };
}

/**
 * Near the optimum cost differences drown in rounding and LM stops; Newton steps that keep the cost
 * within rounding and shrink the gradient take the point the rest of the way, which is what makes
 * finite differences of the mode (and the sensitivity check against them) meaningful. Only the best
 * solution needs it: polishing moves a point by less than the LM's own stopping step.
 */
function polish(views: readonly View[], solution: Solution, delta: number, scratch: SolverScratch): Solution {
  const { gradient, hessian, nextGradient, nextHessian, factor, step, candidate } = scratch;
  const X = Float64Array.from(solution.point);
  let cost = evaluate(views, X, delta, gradient, hessian);
  for (let round = 0; round < 3; round++) {
    // The Hessian-sum-mixture matrix drops the mixture's spread term, so Newton steps with it converge
    // only linearly where a camera's components compete and stop ~1e-7 of the camera distance short;
    // the full Hessian converges quadratically wherever it is positive definite.
    const full = fullHessian(views, X, delta).hessian;
    if (!tryCholeskyInto(full, 3, 1e-14, factor) && !tryCholeskyInto(hessian, 3, 1e-14, factor)) break;
    choleskySolveInto(factor, 3, gradient, step);
    for (let i = 0; i < 3; i++) candidate[i] = X[i] - step[i];
    const nextCost = evaluate(views, candidate, delta, nextGradient, nextHessian);
    const gradientNorm = Math.hypot(gradient[0], gradient[1], gradient[2]);
    const nextNorm = Math.hypot(nextGradient[0], nextGradient[1], nextGradient[2]);
    // Within 1e-7 mm of the optimum the cost changes by ~1e-16 while its rounding (a sum of terms and
    // log-weights of order 10) reaches 3e-13: measured steps that cut the gradient 1e4-fold raised it by
    // that much. So the gradient decides, and the cost only guards against a step out of the basin.
    if (!(nextCost <= cost + 1e-11 * Math.max(1, Math.abs(cost)) && nextNorm < gradientNorm)) break;
    X.set(candidate);
    cost = nextCost;
    gradient.set(nextGradient);
    hessian.set(nextHessian);
  }
  return { ...solution, point: X, cost };
}

/**
 * Hartley's normalization of the DLT: world coordinates about the camera centres' centroid, in units of
 * their spread, so that the normal matrix is well scaled whatever the units of the rig.
 */
interface DltFrame {
  origin: Float64Array;
  spread: number;
}

function dltFrame(cameras: readonly Camera[]): DltFrame {
  const origin = new Float64Array(3);
  for (const camera of cameras) for (let i = 0; i < 3; i++) origin[i] += camera.center[i] / cameras.length;
  let spread = 0;
  for (const camera of cameras)
    spread += Math.hypot(camera.center[0] - origin[0], camera.center[1] - origin[1], camera.center[2] - origin[2]);
  return { origin, spread: spread / cameras.length || 1 };
}

/**
 * One camera's share RᵀR (4 × 4) of the DLT's normal matrix for one observed distorted pixel, its two rows
 * whitened by W unless `whitening` is null. Computed once per camera and component: every assignment of
 * alternatives sums the same shares, and the depth reweighting only scales each share by 1/depth².
 */
function dltShare(camera: Camera, mean: ArrayLike<number>, whitening: Float64Array | null, frame: DltFrame): Float64Array {
  const pixel = camera.undistort(mean);
  const p = camera.linear;
  const { origin, spread } = frame;
  const rows = new Float64Array(8);
  for (let r = 0; r < 2; r++) {
    const row0 = pixel[r] * p[8] - p[r * 4];
    const row1 = pixel[r] * p[9] - p[r * 4 + 1];
    const row2 = pixel[r] * p[10] - p[r * 4 + 2];
    const row3 = pixel[r] * p[11] - p[r * 4 + 3];
    // Into normalized world coordinates: X = origin + spread·X̃.
    rows[r * 4] = row0 * spread;
    rows[r * 4 + 1] = row1 * spread;
    rows[r * 4 + 2] = row2 * spread;
    rows[r * 4 + 3] = row3 + row0 * origin[0] + row1 * origin[1] + row2 * origin[2];
  }
  const weighted = new Float64Array(8);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 4; j++) {
      weighted[i * 4 + j] =
        whitening === null ? rows[i * 4 + j] : whitening[i * 2] * rows[j] + whitening[i * 2 + 1] * rows[4 + j];
    }
  }
  const share = new Float64Array(16);
  for (let i = 0; i < 4; i++)
    for (let j = 0; j < 4; j++) share[i * 4 + j] = weighted[i] * weighted[j] + weighted[4 + i] * weighted[4 + j];
  return share;
}

/**
 * The DLT point from one share per camera. With `reweight`, a second pass divides each camera's rows by
 * its depth at the first solution, so that the algebraic residual becomes the pixel residual that the
 * covariance whitens (Hartley & Sturm's iteration).
 */
function solveDlt(
  cameras: readonly Camera[],
  shares: readonly Float64Array[],
  frame: DltFrame,
  reweight: boolean,
  scratch: DltScratch = new DltScratch(),
): Float64Array {
  const { origin, spread } = frame;
  const { normal, homogeneous } = scratch;
  const X = new Float64Array(3);
  for (let pass = 0; pass < (reweight ? 2 : 1); pass++) {
    normal.fill(0);
    for (let c = 0; c < cameras.length; c++) {
      let factor = 1;
      if (pass > 0) {
        const p = cameras[c].linear;
        const depth = Math.abs(p[8] * X[0] + p[9] * X[1] + p[10] * X[2] + p[11]) || 1;
        factor = 1 / (depth * depth);
      }
      const share = shares[c];
      for (let i = 0; i < 16; i++) normal[i] += factor * share[i];
    }
    let norm = 0;
    for (let i = 0; i < 16; i++) norm = Math.max(norm, Math.abs(normal[i]));
    for (let i = 0; i < 16; i++) normal[i] /= norm;
    // Inverse iteration from the last solution (the first pass's, or the previous assignment's): the
    // reweighting and a switched camera move the null vector little, so it rarely needs Jacobi's
    // fallback any more (0.93 → 0.05 per point on the bench) and reaches the same vector to rounding.
    const h = smallestEigenvector(normal, 4, scratch.solved ? homogeneous : undefined);
    homogeneous.set(h);
    scratch.solved = true;
    for (let i = 0; i < 3; i++) X[i] = origin[i] + (spread * h[i]) / h[3];
  }
  return X;
}

/** The normal matrix and the last null vector, which seeds the next solve's inverse iteration. */
class DltScratch {
  readonly normal = new Float64Array(16);
  readonly homogeneous = new Float64Array(4);
  solved = false;
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
  const weighted = options.weighted !== false;
  const rig = views.map((v) => v.camera);
  const frame = dltFrame(rig);
  const shares = views.map((v) => dltShare(v.camera, v.components[0].mean, weighted ? v.components[0].whitening : null, frame));
  return solveDlt(rig, shares, frame, weighted);
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
  const plus = new Float64Array(3);
  const minus = new Float64Array(3);
  const pixel = new Float64Array(2);
  const jp = new Float64Array(6);
  const jm = new Float64Array(6);
  const second = [new Float64Array(6), new Float64Array(6), new Float64Array(6)];
  const meanGradient = new Float64Array(3);
  for (const view of views) {
    viewStates(view, X, delta, true);
    const { states, gamma } = view;
    viewCost(view);
    // ∂²π by central differences of the analytic Jacobian: O(step²) ≈ 1e-12 relative error, far below
    // the 1e-3 that dropping the term would cost (docs/spec.md §9).
    for (let j = 0; j < 3; j++) {
      plus.set(X);
      minus.set(X);
      plus[j] += step;
      minus[j] -= step;
      view.camera.projectInto(plus, pixel, jp);
      view.camera.projectInto(minus, pixel, jm);
      for (let i = 0; i < 6; i++) second[j][i] = (jp[i] - jm[i]) / (2 * step);
    }
    meanGradient.fill(0);
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
    viewStates(view, at, delta, true);
    const { point, jacobian } = view;
    const energies = view.states.map((state) => state.energy);
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
  const threshold = cachedRadialQuantile(2, delta, OUTLIER_LEVEL);
  return views.map((view) => {
    viewStates(view, position, delta, false);
    viewCost(view);
    const { states, gamma } = view;
    const reprojection = Float64Array.from(view.point);
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

  const rig = views.map((v) => v.camera);
  const frame = dltFrame(rig);
  const shares = views.map((v) => v.components.map((c) => dltShare(v.camera, c.mean, c.whitening, frame)));
  const scratch = new SolverScratch();
  const dltScratch = new DltScratch();
  let best: Solution | null = null;
  const starts: Float64Array[] = [];
  const basins: Basin[] = [];
  const chosen: Float64Array[] = shares.map((ofView) => ofView[0]);
  for (const assignment of assignments(views)) {
    for (let c = 0; c < views.length; c++) chosen[c] = shares[c][assignment[c]];
    const start = solveDlt(rig, chosen, frame, true, dltScratch);
    if (!(Number.isFinite(start[0]) && Number.isFinite(start[1]) && Number.isFinite(start[2]))) continue;
    const scale = meanCameraDistance(views, start);
    // Different assignments often give the same start (a camera's alternative lying on its epipolar line).
    let repeated = false;
    for (const s of starts) {
      const d0 = s[0] - start[0];
      const d1 = s[1] - start[1];
      const d2 = s[2] - start[2];
      if (Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) < 1e-9 * scale) repeated = true;
    }
    if (repeated) continue;
    starts.push(start);
    const solution = minimize(views, start, delta, scratch, SCREENING_TOLERANCE, basins);
    if (solution.converged && !basins.some((basin) => basin.point === solution.point)) {
      basins.push({ point: solution.point, cost: solution.cost, hessian: Float64Array.from(scratch.hessian) });
    }
    if (best === null || solution.cost < best.cost) best = solution;
  }
  if (best !== null) {
    const refined = minimize(views, best.point, delta, scratch, MODE_TOLERANCE);
    best = polish(views, { ...refined, iterations: best.iterations + refined.iterations }, delta, scratch);
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
  const integrate = (at: Float64Array, center: Float64Array, scale: Float64Array, withLevel: boolean, rayEnds?: RayEndCache) => {
    try {
      return integratePosterior(
        3,
        delta,
        linearizedFactors(views, at, delta),
        { center, scale },
        quadrature,
        withLevel ? [level, ...extraLevels] : [],
        rayEnds,
      );
    } catch (error) {
      if (error instanceof ImproperPosteriorError) {
        throw new EvidenceError('the cameras’ rays are parallel at the point: its depth is not determined', 'observations');
      }
      throw error;
    }
  };
  // A first integration about the optimum, in the frame of its Gauss–Newton information inflated by κ
  // like a single observation's, places the frame of the rest. The rule is accurate only when the frame
  // whitens the posterior: starting in the Gauss–Newton frame instead doubled the median error against
  // ACCURATE_QUADRATURE, and a coarser first rule moved some mixture posteriors by 0.2 σ.
  const information = new Float64Array(9);
  evaluate(views, best.point, delta, new Float64Array(3), information);
  const roughCovariance = invertSpd(information, 3);
  for (let i = 0; i < 9; i++) roughCovariance[i] *= huberConstants(2, delta).kappa;
  const rough = integrate(best.point, best.point, cholesky(roughCovariance, 3), false);
  // With the frame held fixed the quadrature is a smooth map of the linearization point, so the fixed
  // point converges below its own rounding instead of jittering by the rule's error.
  const frameCenter = rough.mean;
  const frameScale = cholesky(rough.covariance, 3);
  let at: Float64Array = Float64Array.from(rough.mean);
  // The passes share the frame, so one pass's ray ends serve the next while the posterior barely moves.
  const rayEnds = new RayEndCache();
  let final: PosteriorSummary | null = null;
  let move = Infinity;
  let contraction = FIXED_POINT_CONTRACTION;
  for (let iteration = 0; iteration < MAX_FIXED_POINT_ITERATIONS; iteration++) {
    // For a contraction c the new point lies within c·move/(1 − c) of the fixed point, and the move
    // shrinks by c per pass; c is twice the ratio of the last two moves once there are two. That bound,
    // not the move itself, is what docs/spec.md §9 asks to be below the tolerance: after a first move of
    // 1e4 tolerances the second pass already ends within 0.05 of one, so a third is not needed. Only
    // the pass predicted to end the loop computes the region; a wrong prediction costs one more pass.
    const last = contraction * contraction * move < tolerance || iteration === MAX_FIXED_POINT_ITERATIONS - 1;
    final = integrate(at, frameCenter, frameScale, last, rayEnds);
    const next = Math.hypot(final.mean[0] - at[0], final.mean[1] - at[1], final.mean[2] - at[2]);
    if (Number.isFinite(move) && move > 0) contraction = (2 * next) / move;
    move = next;
    at = final.mean;
    const bound = contraction < 0.5 ? (contraction * move) / (1 - contraction) : Infinity;
    if (last && (move < tolerance || bound < tolerance)) break;
  }
  if (final === null) throw new RangeError('unreachable: the fixed point runs at least once');
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
