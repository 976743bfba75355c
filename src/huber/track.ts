/**
 * What the smoother and the filter share (docs/spec.md §9, Smoothing): a track's frames checked once and laid
 * out in flat arrays, the options, and the per-frame answer. Every problem with the input is a
 * TrackInputError naming the frame and field, so the HTTP layer can point at the bad value.
 */
import { gaussianRegionRadius } from './gaussian-region.js';
import { inverseFromCholesky, tryCholesky } from './linalg.js';
import { isRepresentableStep } from './motion-model.js';
import { assertDelta, assertDimension, assertLevel, cachedRadialQuantile, huberConstants } from './radial.js';

export interface TrackFrameInput {
  /** Seconds; strictly increasing along the track. */
  readonly t: number;
  /** The observed position, or null for a missed frame. */
  readonly mean: ArrayLike<number> | null;
  /** Σ_t, row-major d×d (as predict returns it); absent or null exactly when `mean` is null. */
  readonly covariance?: ArrayLike<number> | null;
}

export interface TrackOptions {
  /** δ of the Huber measurement factors. */
  readonly delta: number;
  /** Probability mass of each frame's region. */
  readonly level: number;
  /** q, the white-noise acceleration's spectral density root, units/s^{3/2}. */
  readonly accelerationNoise: number;
  readonly maxIterations?: number;
  /** Stop when the Newton decrement per observed frame falls below tolerance² (nats). */
  readonly tolerance?: number;
}

export interface TrackFrameEstimate {
  readonly t: number;
  readonly mean: Float64Array | null;
  /** The Gaussian marginal of docs/spec.md §9's covariance rule, d×d row-major. */
  readonly covariance: Float64Array | null;
  readonly velocity: Float64Array | null;
  /** min(1, δ/r_t) at the answer; null on a missed frame. */
  readonly weight: number | null;
  /** r_t = ‖A_t(mean − z_t)‖; null on a missed frame. */
  readonly mahalanobis: number | null;
  readonly outlier: boolean;
}

export interface TrackEstimate {
  readonly dimension: number;
  readonly level: number;
  /** Radius of every frame's region: (y − mean)ᵀ covariance⁻¹ (y − mean) ≤ radius². */
  readonly regionRadius: number;
  readonly frames: TrackFrameEstimate[];
  /** Newton iterations of the whole-track solve (smoother) or summed over frames (filter). */
  readonly iterations: number;
  readonly converged: boolean;
  readonly outliers: number;
}

export type TrackField = 't' | 'mean' | 'covariance';

/** Bad input in one frame of a track; `frame` is the index in the track's observation list. */
export class TrackInputError extends RangeError {
  constructor(
    readonly frame: number,
    readonly field: TrackField,
    message: string,
  ) {
    super(message);
    this.name = 'TrackInputError';
  }
}

export const DEFAULT_TRACK_MAX_ITERATIONS = 100;
export const DEFAULT_TRACK_TOLERANCE = 1e-8;

/** Relative asymmetry a covariance may carry from rounding in the client's own arithmetic. */
const SYMMETRY_TOLERANCE = 1e-9;
/** A covariance whose Cholesky pivot falls below this fraction of its diagonal is treated as singular. */
const SINGULAR_PIVOT = 1e-12;

/** A track checked and flattened: frame i's position block is [i·d, i·d + d), matrices d×d back to back. */
export interface PreparedTrack {
  readonly dimension: number;
  readonly frames: number;
  readonly times: Float64Array;
  readonly observed: Uint8Array;
  readonly observedCount: number;
  readonly measurement: Float64Array;
  /** Σ_t as given (symmetrized). */
  readonly covariance: Float64Array;
  /** Σ_t⁻¹: the Gaussian information R_t⁻¹ of the covariance rule before any outlier inflation. */
  readonly information: Float64Array;
  /** Λ_t = κ_d(δ) Σ_t⁻¹, the Huber precision. */
  readonly precision: Float64Array;
  readonly delta: number;
  readonly level: number;
  readonly accelerationNoise: number;
  readonly kappa: number;
  readonly outlierRadius: number;
  readonly regionRadius: number;
  readonly maxIterations: number;
  readonly tolerance: number;
}

function assertOptions(options: TrackOptions): void {
  assertDelta(options.delta);
  assertLevel(options.level);
  const q = options.accelerationNoise;
  if (!(q > 0) || !Number.isFinite(q)) throw new RangeError(`accelerationNoise must be a positive finite number, got ${q}`);
  const iterations = options.maxIterations ?? DEFAULT_TRACK_MAX_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new RangeError(`maxIterations must be a positive integer, got ${iterations}`);
  const tolerance = options.tolerance ?? DEFAULT_TRACK_TOLERANCE;
  if (!(tolerance > 0) || !Number.isFinite(tolerance))
    throw new RangeError(`tolerance must be a positive finite number, got ${tolerance}`);
}

/** Inverse of a symmetric positive definite d×d matrix by Cholesky, or null when it is (numerically) singular. */
function invertCovariance(sigma: Float64Array, d: number): Float64Array | null {
  const l = tryCholesky(sigma, d, SINGULAR_PIVOT);
  if (l === null) return null;
  const inverse = inverseFromCholesky(l, d);
  return Number.isFinite(inverse.reduce((a, b) => a + Math.abs(b), 0)) ? inverse : null;
}

function checkCovariance(frame: number, covariance: ArrayLike<number> | null | undefined, d: number): Float64Array {
  if (covariance === null || covariance === undefined) {
    throw new TrackInputError(frame, 'covariance', 'an observed frame needs its covariance');
  }
  if (covariance.length !== d * d) {
    throw new TrackInputError(
      frame,
      'covariance',
      `covariance must be ${d}×${d} like the mean, got ${covariance.length} entries`,
    );
  }
  const sigma = Float64Array.from(covariance);
  for (let i = 0; i < d * d; i++) {
    if (!Number.isFinite(sigma[i]))
      throw new TrackInputError(frame, 'covariance', `covariance entry ${i} is not a finite number`);
  }
  for (let i = 0; i < d; i++) {
    if (!(sigma[i * d + i] > 0)) {
      throw new TrackInputError(
        frame,
        'covariance',
        `covariance must be positive definite; its diagonal entry ${i} is ${sigma[i * d + i]}`,
      );
    }
    for (let j = i + 1; j < d; j++) {
      const a = sigma[i * d + j];
      const b = sigma[j * d + i];
      const scale = Math.sqrt(sigma[i * d + i] * sigma[j * d + j]);
      if (Math.abs(a - b) > SYMMETRY_TOLERANCE * scale) {
        throw new TrackInputError(
          frame,
          'covariance',
          `covariance must be symmetric; entries [${i}][${j}] = ${a} and [${j}][${i}] = ${b} differ`,
        );
      }
      sigma[i * d + j] = sigma[j * d + i] = 0.5 * (a + b);
    }
  }
  return sigma;
}

/** Checks a track against docs/spec.md §9's input rules and lays it out for the solvers. */
export function prepareTrack(frames: readonly TrackFrameInput[], options: TrackOptions): PreparedTrack {
  assertOptions(options);
  const n = frames.length;
  let d = 0;
  for (const frame of frames) {
    if (frame.mean !== null) {
      d = frame.mean.length;
      break;
    }
  }
  if (d !== 0 && (d < 1 || d > 4)) {
    const index = frames.findIndex((frame) => frame.mean !== null);
    throw new TrackInputError(index, 'mean', `a position must have 1 to 4 coordinates, got ${d}`);
  }
  const dimension = d === 0 ? 2 : d;
  assertDimension(dimension);
  const { kappa } = huberConstants(dimension, options.delta);
  const times = new Float64Array(n);
  const observed = new Uint8Array(n);
  const measurement = new Float64Array(n * dimension).fill(Number.NaN);
  const covariance = new Float64Array(n * dimension * dimension);
  const information = new Float64Array(n * dimension * dimension);
  const precision = new Float64Array(n * dimension * dimension);
  let observedCount = 0;
  const q = options.accelerationNoise;
  for (let i = 0; i < n; i++) {
    const frame = frames[i];
    const t = frame.t;
    if (typeof t !== 'number' || !Number.isFinite(t))
      throw new TrackInputError(i, 't', `t must be a finite number of seconds, got ${t}`);
    if (i > 0) {
      const dt = t - times[i - 1];
      if (!(dt > 0)) throw new TrackInputError(i, 't', `times must increase strictly; t = ${t} follows t = ${times[i - 1]}`);
      if (!isRepresentableStep(dt, q)) {
        throw new TrackInputError(
          i,
          't',
          `the step of ${dt} s from the previous frame is too short to represent with accelerationNoise ${q}`,
        );
      }
    }
    times[i] = t;
    if (frame.mean === null) {
      if (frame.covariance !== null && frame.covariance !== undefined) {
        throw new TrackInputError(i, 'covariance', 'a missed frame (mean null) carries no covariance');
      }
      continue;
    }
    if (frame.mean.length !== dimension) {
      throw new TrackInputError(
        i,
        'mean',
        `mean has ${frame.mean.length} coordinates but the track's earlier frames have ${dimension}`,
      );
    }
    for (let k = 0; k < dimension; k++) {
      const value = frame.mean[k];
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new TrackInputError(i, 'mean', `mean coordinate ${k} is not a finite number`);
      measurement[i * dimension + k] = value;
    }
    const sigma = checkCovariance(i, frame.covariance, dimension);
    const inverse = invertCovariance(sigma, dimension);
    if (inverse === null) throw new TrackInputError(i, 'covariance', 'covariance is singular (not positive definite)');
    const at = i * dimension * dimension;
    covariance.set(sigma, at);
    information.set(inverse, at);
    for (let k = 0; k < dimension * dimension; k++) precision[at + k] = kappa * inverse[k];
    observed[i] = 1;
    observedCount++;
  }
  return {
    dimension,
    frames: n,
    times,
    observed,
    observedCount,
    measurement,
    covariance,
    information,
    precision,
    delta: options.delta,
    level: options.level,
    accelerationNoise: q,
    kappa,
    outlierRadius: cachedRadialQuantile(dimension, options.delta, 0.99),
    regionRadius: gaussianRegionRadius(dimension, options.level),
    maxIterations: options.maxIterations ?? DEFAULT_TRACK_MAX_ITERATIONS,
    tolerance: options.tolerance ?? DEFAULT_TRACK_TOLERANCE,
  };
}

/** r_t = ‖A_t(x − z_t)‖ for the position block at `positions[at…]`. */
export function measurementRadius(track: PreparedTrack, frame: number, positions: ArrayLike<number>, at: number): number {
  const d = track.dimension;
  const base = frame * d * d;
  let r2 = 0;
  for (let i = 0; i < d; i++) {
    const ei = positions[at + i] - track.measurement[frame * d + i];
    for (let j = 0; j < d; j++)
      r2 += ei * track.precision[base + i * d + j] * (positions[at + j] - track.measurement[frame * d + j]);
  }
  return Math.sqrt(Math.max(0, r2));
}

/** A frame with no determined state (docs/spec.md §9: before the first observation, or missed before the second). */
export function undeterminedFrame(t: number): TrackFrameEstimate {
  return { t, mean: null, covariance: null, velocity: null, weight: null, mahalanobis: null, outlier: false };
}
