/**
 * `mode: "filter"` of docs/spec.md §9: causal and recursive. Each frame's prior is the previous frame's
 * filtered Gaussian moved by the motion model; the frame's state is the MAP of that prior times its
 * Huber measurement; what passes on is that MAP with the Kalman covariance for R_t = Σ_t (Σ_t/w_t on a
 * frame flagged outlier). A frame's answer is computed before later frames are read, so it cannot
 * depend on them.
 *
 * The first state has a flat prior, so the first observed frame is its measurement with velocity
 * unknown, and the second observed frame is its measurement too: with v free, the prior constrains
 * only x − τv (τ the time since the first observation), to N(z₁, S) with S = R₁ + q²τ³/3·I. Its
 * filtered covariance follows in closed form, P = [[R₂, R₂/τ], [R₂/τ, (R₂ + S)/τ²]], which avoids
 * subtracting the nearly equal information matrices that an information-form filter would.
 */
import { invertSpd, multiply, symmetrize, transpose } from './linalg.js';
import { processNoise, transition } from './motion-model.js';
import { huberLoss } from './radial.js';
import {
  measurementRadius,
  prepareTrack,
  undeterminedFrame,
  type PreparedTrack,
  type TrackEstimate,
  type TrackFrameEstimate,
  type TrackFrameInput,
  type TrackOptions,
} from './track.js';

type FilterState =
  | { readonly kind: 'empty' }
  | { readonly kind: 'first'; readonly position: Float64Array; readonly covariance: Float64Array; readonly t: number }
  | { readonly kind: 'gaussian'; readonly mean: Float64Array; readonly covariance: Float64Array; readonly t: number };

function block(matrix: Float64Array, m: number, row: number, col: number, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) out[i * size + j] = matrix[(row + i) * m + col + j];
  return out;
}

function multiplyVector(matrix: ArrayLike<number>, vector: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += matrix[i * cols + j] * vector[j];
    out[i] = sum;
  }
  return out;
}

/** F m and F P Fᵀ + Q over a step of dt. */
function predict(
  mean: Float64Array,
  covariance: Float64Array,
  dt: number,
  q: number,
  d: number,
): { mean: Float64Array; covariance: Float64Array } {
  const m = 2 * d;
  const f = transition(dt, d);
  const moved = multiply(multiply(f, covariance, m), transpose(f, m), m);
  const noise = processNoise(dt, q, d);
  for (let i = 0; i < m * m; i++) moved[i] += noise[i];
  return { mean: multiplyVector(f, mean, m, m), covariance: symmetrize(moved, m) };
}

interface FrameMap {
  readonly position: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
}

/**
 * argmin_x ½(x − a)ᵀB(x − a) + h_δ(‖A_t(x − z_t)‖) by Newton with the robust second-order term and
 * backtracking. The objective is strictly convex (B is positive definite), so its Hessian is too.
 */
function frameMap(track: PreparedTrack, frame: number, priorMean: Float64Array, priorInformation: Float64Array): FrameMap {
  const d = track.dimension;
  const delta = track.delta;
  const base = frame * d * d;
  const lambda = track.precision.subarray(base, base + d * d);
  const z = track.measurement.subarray(frame * d, frame * d + d);
  const cost = (x: Float64Array): number => {
    let prior = 0;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) prior += (x[i] - priorMean[i]) * priorInformation[i * d + j] * (x[j] - priorMean[j]);
    return 0.5 * prior + huberLoss(measurementRadius(track, frame, x, 0), delta);
  };
  const x = Float64Array.from(priorMean);
  const threshold = track.tolerance * track.tolerance;
  const candidate = new Float64Array(d);
  for (let iteration = 1; iteration <= track.maxIterations; iteration++) {
    const r = measurementRadius(track, frame, x, 0);
    const w = r <= delta ? 1 : delta / r;
    const le = multiplyVector(
      lambda,
      Array.from(x, (value, i) => value - z[i]),
      d,
      d,
    );
    const gradient = new Float64Array(d);
    const hessian = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      let sum = w * le[i];
      for (let j = 0; j < d; j++) {
        sum += priorInformation[i * d + j] * (x[j] - priorMean[j]);
        hessian[i * d + j] =
          priorInformation[i * d + j] + w * lambda[i * d + j] - (r > delta ? (delta / (r * r * r)) * le[i] * le[j] : 0);
      }
      gradient[i] = sum;
    }
    const step = multiplyVector(invertSpd(symmetrize(hessian, d), d, 'filter Hessian'), gradient, d, d).map((v) => -v);
    let decrement = 0;
    for (let i = 0; i < d; i++) decrement -= gradient[i] * step[i];
    if (decrement <= threshold) {
      for (let i = 0; i < d; i++) x[i] += step[i];
      return { position: x, iterations: iteration, converged: true };
    }
    const value = cost(x);
    let alpha = 1;
    for (let halving = 0; halving < 40; halving++) {
      for (let i = 0; i < d; i++) candidate[i] = x[i] + alpha * step[i];
      if (cost(candidate) <= value - 1e-4 * alpha * decrement) break;
      alpha *= 0.5;
    }
    x.set(candidate);
  }
  return { position: x, iterations: track.maxIterations, converged: false };
}

/** Joseph-form Kalman update of P with R on the position: stays symmetric positive definite. */
function kalmanCovariance(prior: Float64Array, measurementCovariance: Float64Array, d: number): Float64Array {
  const m = 2 * d;
  const innovation = block(prior, m, 0, 0, d);
  for (let i = 0; i < d * d; i++) innovation[i] += measurementCovariance[i];
  const innovationInverse = invertSpd(symmetrize(innovation, d), d, 'innovation covariance');
  // K = P Hᵀ (H P Hᵀ + R)⁻¹, m×d.
  const gain = new Float64Array(m * d);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += prior[i * m + k] * innovationInverse[k * d + j];
      gain[i * d + j] = sum;
    }
  }
  const reduction = new Float64Array(m * m);
  for (let i = 0; i < m; i++) reduction[i * m + i] = 1;
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) reduction[i * m + j] -= gain[i * d + j];
  const out = multiply(multiply(reduction, prior, m), transpose(reduction, m), m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let a = 0; a < d; a++)
        for (let b = 0; b < d; b++) sum += gain[i * d + a] * measurementCovariance[a * d + b] * gain[j * d + b];
      out[i * m + j] += sum;
    }
  }
  return symmetrize(out, m);
}

/** Filters one track (docs/spec.md §9 `mode: "filter"`). Throws TrackInputError naming the frame for bad input. */
export function filterTrack(input: readonly TrackFrameInput[], options: TrackOptions): TrackEstimate {
  const track = prepareTrack(input, options);
  const d = track.dimension;
  const m = 2 * d;
  const q = track.accelerationNoise;
  const frames: TrackFrameEstimate[] = [];
  let state: FilterState = { kind: 'empty' };
  let iterations = 0;
  let converged = true;
  let outliers = 0;
  for (let t = 0; t < track.frames; t++) {
    const time = track.times[t];
    const sigma = track.covariance.slice(t * d * d, (t + 1) * d * d);
    const z = track.measurement.slice(t * d, t * d + d);
    if (state.kind === 'gaussian') {
      const moved = predict(state.mean, state.covariance, time - state.t, q, d);
      state = { kind: 'gaussian', mean: moved.mean, covariance: moved.covariance, t: time };
    }
    if (!track.observed[t]) {
      if (state.kind !== 'gaussian') frames.push(undeterminedFrame(time));
      else {
        frames.push({
          t: time,
          mean: state.mean.slice(0, d),
          covariance: block(state.covariance, m, 0, 0, d),
          velocity: state.mean.slice(d, m),
          weight: null,
          mahalanobis: null,
          outlier: false,
        });
      }
      continue;
    }
    if (state.kind === 'empty') {
      frames.push({ t: time, mean: z, covariance: sigma, velocity: null, weight: 1, mahalanobis: 0, outlier: false });
      state = { kind: 'first', position: z, covariance: sigma, t: time };
      continue;
    }
    if (state.kind === 'first') {
      const first = state;
      const tau = time - first.t;
      const velocity = z.map((value, i) => (value - first.position[i]) / tau);
      const covariance = new Float64Array(m * m);
      const drift = (q * q * tau * tau * tau) / 3;
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          const r = sigma[i * d + j];
          const s = first.covariance[i * d + j] + (i === j ? drift : 0);
          covariance[i * m + j] = r;
          covariance[i * m + d + j] = r / tau;
          covariance[(d + i) * m + j] = r / tau;
          covariance[(d + i) * m + d + j] = (r + s) / (tau * tau);
        }
      }
      frames.push({ t: time, mean: z, covariance: sigma, velocity, weight: 1, mahalanobis: 0, outlier: false });
      const mean = new Float64Array(m);
      mean.set(z, 0);
      mean.set(velocity, d);
      state = { kind: 'gaussian', mean, covariance, t: time };
      continue;
    }
    const priorPosition = state.mean.slice(0, d);
    const priorPositionCovariance = block(state.covariance, m, 0, 0, d);
    const priorInformation = invertSpd(priorPositionCovariance, d, 'predicted position covariance');
    const map = frameMap(track, t, priorPosition, priorInformation);
    iterations += map.iterations;
    converged &&= map.converged;
    // The velocity that goes with the MAP position under the Gaussian prior: v = m_v + P_vx P_xx⁻¹ (x − m_x).
    const shift = multiplyVector(
      priorInformation,
      Array.from(map.position, (value, i) => value - priorPosition[i]),
      d,
      d,
    );
    const crossCovariance = block(state.covariance, m, d, 0, d);
    const velocityShift = multiplyVector(crossCovariance, shift, d, d);
    const mean = new Float64Array(m);
    mean.set(map.position, 0);
    for (let i = 0; i < d; i++) mean[d + i] = state.mean[d + i] + velocityShift[i];
    const r = measurementRadius(track, t, map.position, 0);
    const weight = Math.min(1, track.delta / Math.max(r, Number.MIN_VALUE));
    const outlier = r > track.outlierRadius;
    if (outlier) outliers++;
    const measurementCovariance = outlier ? sigma.map((value) => value / weight) : sigma;
    const covariance = kalmanCovariance(state.covariance, measurementCovariance, d);
    frames.push({
      t: time,
      mean: map.position,
      covariance: block(covariance, m, 0, 0, d),
      velocity: mean.slice(d, m),
      weight,
      mahalanobis: r,
      outlier,
    });
    state = { kind: 'gaussian', mean, covariance, t: time };
  }
  return {
    dimension: d,
    level: track.level,
    regionRadius: track.regionRadius,
    frames,
    iterations,
    converged,
    outliers,
  };
}
