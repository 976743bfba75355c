/**
 * The baselines the smoothing accuracy benchmark (bench/smoothing-accuracy.ts) measures against: a plain
 * Gaussian Kalman filter and Rauch–Tung–Striebel smoother on the same constant-velocity model and the
 * same per-frame covariances R_t = Σ_t, and the One Euro filter (Casiez et al., CHI 2012) as MediaPipe
 * runs it on landmarks. Dense textbook code, independent of src/huber.
 */
import {
  denseInverse,
  denseMultiply,
  denseTranspose,
  referenceProcessNoise,
  referenceTransition,
  type ReferenceFrame,
} from './track-reference.js';

export interface GaussianTrackEstimate {
  /** Positions per frame (filtered or smoothed). */
  readonly means: number[][];
  /** Position covariances per frame, d×d row-major. */
  readonly covariances: number[][];
}

/** Velocity variance of the vague start: effectively flat for any pixel-scale motion. */
const VAGUE_VELOCITY_VARIANCE = 1e8;

/**
 * Kalman filter (and, when `smooth`, the RTS backward pass) with R_t = Σ_t. Starts at the first observed
 * frame with its measurement and a vague velocity; frames before it get that start.
 */
export function gaussianTrack(frames: readonly ReferenceFrame[], d: number, q: number, smooth: boolean): GaussianTrackEstimate {
  const m = 2 * d;
  const first = frames.findIndex((frame) => frame.mean !== null);
  const start = frames[first]!;
  let mean = [...start.mean!, ...new Array<number>(d).fill(0)];
  let cov = new Array<number>(m * m).fill(0);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * m + j] = start.covariance![i * d + j]!;
  for (let i = d; i < m; i++) cov[i * m + i] = VAGUE_VELOCITY_VARIANCE;
  const filtered: { mean: number[]; cov: number[] }[] = [];
  const predicted: { mean: number[]; cov: number[] }[] = [];
  for (let t = 0; t < frames.length; t++) {
    const frame = frames[t]!;
    if (t > first) {
      const dt = frame.t - frames[t - 1]!.t;
      const f = referenceTransition(dt, d);
      const noise = referenceProcessNoise(dt, q, d);
      mean = denseMultiply(f, mean, m, m, 1);
      cov = denseMultiply(denseMultiply(f, cov, m, m, m), denseTranspose(f, m, m), m, m, m).map((v, i) => v + noise[i]!);
    }
    predicted.push({ mean, cov });
    if (t > first && frame.mean !== null) {
      const r = frame.covariance!;
      const innovation = new Array<number>(d * d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) innovation[i * d + j] = cov[i * m + j]! + r[i * d + j]!;
      const inverse = denseInverse(innovation, d);
      const gain = new Array<number>(m * d).fill(0);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) gain[i * d + j]! += cov[i * m + k]! * inverse[k * d + j]!;
      const residual = frame.mean.map((z, i) => z - mean[i]!);
      mean = mean.map((v, i) => v + residual.reduce((acc, e, j) => acc + gain[i * d + j]! * e, 0));
      const reduction = new Array<number>(m * m).fill(0);
      for (let i = 0; i < m; i++) reduction[i * m + i] = 1;
      for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) reduction[i * m + j]! -= gain[i * d + j]!;
      const kept = denseMultiply(denseMultiply(reduction, cov, m, m, m), denseTranspose(reduction, m, m), m, m, m);
      const added = denseMultiply(denseMultiply(gain, r, m, d, d), denseTranspose(gain, m, d), m, d, m);
      cov = kept.map((v, i) => v + added[i]!);
    }
    filtered.push({ mean, cov });
  }
  let states = filtered;
  if (smooth) {
    states = filtered.slice();
    for (let t = frames.length - 2; t >= first; t--) {
      const dt = frames[t + 1]!.t - frames[t]!.t;
      const f = referenceTransition(dt, d);
      const now = filtered[t]!;
      const next = predicted[t + 1]!;
      const after = states[t + 1]!;
      const gain = denseMultiply(denseMultiply(now.cov, denseTranspose(f, m, m), m, m, m), denseInverse(next.cov, m), m, m, m);
      const meanShift = denseMultiply(
        gain,
        after.mean.map((v, i) => v - next.mean[i]!),
        m,
        m,
        1,
      );
      const covShift = denseMultiply(
        denseMultiply(
          gain,
          after.cov.map((v, i) => v - next.cov[i]!),
          m,
          m,
          m,
        ),
        denseTranspose(gain, m, m),
        m,
        m,
        m,
      );
      states[t] = { mean: now.mean.map((v, i) => v + meanShift[i]!), cov: now.cov.map((v, i) => v + covShift[i]!) };
    }
  }
  return {
    means: states.map((state) => state.mean.slice(0, d)),
    covariances: states.map((state) => {
      const out: number[] = [];
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out.push(state.cov[i * m + j]!);
      return out;
    }),
  };
}

export interface OneEuroParameters {
  readonly minCutoff: number;
  readonly beta: number;
  readonly derivativeCutoff: number;
  /**
   * MediaPipe multiplies values by 1/objectScale before filtering (its value_scale), so beta applies to
   * speeds in object sizes per second rather than pixels per second.
   */
  readonly objectScale: number;
}

/** MediaPipe's pose landmark smoothing: min_cutoff 0.1, beta 40, derivate_cutoff 1.0. */
export const MEDIAPIPE_POSE: Omit<OneEuroParameters, 'objectScale'> = { minCutoff: 0.1, beta: 40, derivativeCutoff: 1 };

/** The One Euro filter per coordinate; a missed frame repeats the last output and does not update. */
export function oneEuro(frames: readonly ReferenceFrame[], d: number, parameters: OneEuroParameters): (number[] | null)[] {
  const alpha = (cutoff: number, dt: number) => 1 / (1 + 1 / (2 * Math.PI * cutoff * dt));
  let previous: { t: number; value: number[]; derivative: number[] } | null = null;
  return frames.map((frame) => {
    if (frame.mean === null) return previous === null ? null : previous.value.map((v) => v * parameters.objectScale);
    const value = frame.mean.map((v) => v / parameters.objectScale);
    if (previous === null) {
      previous = { t: frame.t, value, derivative: new Array<number>(d).fill(0) };
      return frame.mean.slice();
    }
    const dt = frame.t - previous.t;
    const last = previous;
    const derivative = value.map((v, i) => {
      const raw = (v - last.value[i]!) / dt;
      const a = alpha(parameters.derivativeCutoff, dt);
      return a * raw + (1 - a) * last.derivative[i]!;
    });
    const filtered = value.map((v, i) => {
      const cutoff = parameters.minCutoff + parameters.beta * Math.abs(derivative[i]!);
      const a = alpha(cutoff, dt);
      return a * v + (1 - a) * last.value[i]!;
    });
    previous = { t: frame.t, value: filtered, derivative };
    return filtered.map((v) => v * parameters.objectScale);
  });
}
