/**
 * Independent references for the track smoother and filter (SPEC §9, Smoothing), written from the
 * definitions with dense matrices and no code from src/huber: the process noise Q, the whole-track
 * objective and its gradient, a general-purpose BFGS minimizer, dense solves, and a simulator of
 * constant-velocity tracks observed with Huber noise.
 */
import { RadialSampler, referenceKappa, referenceLoss } from './huber-reference.js';
import type { Rng } from './prng.js';

/** Row-major dense matrix helpers on plain number arrays. */
export function denseMultiply(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, inner: number, cols: number): number[] {
  const out = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < inner; k++) for (let j = 0; j < cols; j++) out[i * cols + j]! += a[i * inner + k]! * b[k * cols + j]!;
  return out;
}

export function denseTranspose(a: number[], rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** Inverse by Gauss–Jordan with full pivoting. */
export function denseInverse(matrix: ArrayLike<number>, n: number): number[] {
  const a = Array.from(matrix);
  const inv = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]!) > Math.abs(a[pivot * n + col]!)) pivot = r;
    for (let k = 0; k < n; k++) {
      [a[col * n + k]!, a[pivot * n + k]!] = [a[pivot * n + k]!, a[col * n + k]!];
      [inv[col * n + k]!, inv[pivot * n + k]!] = [inv[pivot * n + k]!, inv[col * n + k]!];
    }
    const p = a[col * n + col]!;
    for (let k = 0; k < n; k++) {
      a[col * n + k]! /= p;
      inv[col * n + k]! /= p;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r * n + col]!;
      for (let k = 0; k < n; k++) {
        a[r * n + k]! -= f * a[col * n + k]!;
        inv[r * n + k]! -= f * inv[col * n + k]!;
      }
    }
  }
  return inv;
}

export function denseSolve(matrix: ArrayLike<number>, rhs: ArrayLike<number>, n: number): number[] {
  return denseMultiply(denseInverse(matrix, n), Array.from(rhs), n, n, 1);
}

/** Lower Cholesky factor. */
export function denseCholesky(matrix: ArrayLike<number>, n: number): number[] {
  const l = new Array<number>(n * n).fill(0);
  for (let j = 0; j < n; j++) {
    let s = matrix[j * n + j]!;
    for (let k = 0; k < j; k++) s -= l[j * n + k]! ** 2;
    l[j * n + j] = Math.sqrt(s);
    for (let i = j + 1; i < n; i++) {
      let t = matrix[i * n + j]!;
      for (let k = 0; k < j; k++) t -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = t / l[j * n + j]!;
    }
  }
  return l;
}

/** The state transition x' = x + Δv, v' = v for state (x, v) ∈ R^{2d}. */
export function referenceTransition(dt: number, d: number): number[] {
  const m = 2 * d;
  const f = new Array<number>(m * m).fill(0);
  for (let i = 0; i < m; i++) f[i * m + i] = 1;
  for (let i = 0; i < d; i++) f[i * m + d + i] = dt;
  return f;
}

/** Q = ∫₀^Δ e^{Ms} G Gᵀ e^{Mᵀs} ds q² for ẋ = v, v̇ = white noise, by Simpson's rule on [0, Δ] (exact for this cubic). */
export function referenceProcessNoise(dt: number, q: number, d: number): number[] {
  const m = 2 * d;
  const out = new Array<number>(m * m).fill(0);
  const nodes = 8;
  for (let k = 0; k <= nodes; k++) {
    const s = (dt * k) / nodes;
    const weight = (k === 0 || k === nodes ? 1 : k % 2 === 1 ? 4 : 2) * (dt / nodes / 3);
    // e^{Ms}G maps the unit noise on v to (s·I, I).
    for (let i = 0; i < d; i++) {
      out[i * m + i]! += weight * q * q * s * s;
      out[i * m + d + i]! += weight * q * q * s;
      out[(d + i) * m + i]! += weight * q * q * s;
      out[(d + i) * m + d + i]! += weight * q * q;
    }
  }
  return out;
}

export interface ReferenceFrame {
  t: number;
  mean: number[] | null;
  covariance?: number[] | null;
}

/** The smoother's objective from SPEC §9 for states laid out frame by frame (x then v), with its gradient. */
export function referenceTrackObjective(
  frames: readonly ReferenceFrame[],
  d: number,
  delta: number,
  q: number,
): { value: (s: ArrayLike<number>) => number; gradient: (s: ArrayLike<number>) => number[] } {
  const m = 2 * d;
  const kappa = referenceKappa(d, delta);
  const precisions = frames.map((f) => (f.mean === null ? null : denseInverse(f.covariance!, d).map((v) => v * kappa)));
  const steps = frames.slice(1).map((f, k) => {
    const dt = f.t - frames[k]!.t;
    return { f: referenceTransition(dt, d), w: denseInverse(referenceProcessNoise(dt, q, d), m) };
  });
  const residual = (s: ArrayLike<number>, k: number): number[] => {
    const moved = denseMultiply(steps[k]!.f, Array.from(s).slice(k * m, k * m + m), m, m, 1);
    return moved.map((v, i) => s[(k + 1) * m + i]! - v);
  };
  const error = (s: ArrayLike<number>, t: number) => frames[t]!.mean!.map((z, i) => s[t * m + i]! - z);
  const radius = (e: number[], lambda: number[]) =>
    Math.sqrt(Math.max(0, denseMultiply(e, denseMultiply(lambda, e, d, d, 1), 1, d, 1)[0]!));
  return {
    value(s) {
      let total = 0;
      for (let k = 0; k < steps.length; k++) {
        const rho = residual(s, k);
        total += 0.5 * denseMultiply(rho, denseMultiply(steps[k]!.w, rho, m, m, 1), 1, m, 1)[0]!;
      }
      frames.forEach((frame, t) => {
        if (frame.mean !== null) total += referenceLoss(radius(error(s, t), precisions[t]!), delta);
      });
      return total;
    },
    gradient(s) {
      const g = new Array<number>(s.length).fill(0);
      for (let k = 0; k < steps.length; k++) {
        const wr = denseMultiply(steps[k]!.w, residual(s, k), m, m, 1);
        const back = denseMultiply(denseTranspose(steps[k]!.f, m, m), wr, m, m, 1);
        for (let i = 0; i < m; i++) {
          g[(k + 1) * m + i]! += wr[i]!;
          g[k * m + i]! -= back[i]!;
        }
      }
      frames.forEach((frame, t) => {
        if (frame.mean === null) return;
        const e = error(s, t);
        const le = denseMultiply(precisions[t]!, e, d, d, 1);
        const r = radius(e, precisions[t]!);
        const scale = r <= delta ? 1 : delta / r;
        for (let i = 0; i < d; i++) g[t * m + i]! += scale * le[i]!;
      });
      return g;
    },
  };
}

/**
 * BFGS with an Armijo backtracking line search and the inverse-Hessian update skipped whenever the
 * curvature condition fails; stops when the gradient's largest entry is below `gradientTolerance`.
 */
export function minimizeBfgs(
  value: (x: ArrayLike<number>) => number,
  gradient: (x: ArrayLike<number>) => number[],
  start: ArrayLike<number>,
  options: { gradientTolerance: number; maxIterations?: number },
): { x: number[]; iterations: number; gradientNorm: number } {
  const n = start.length;
  let x = Array.from(start);
  let g = gradient(x);
  let f = value(x);
  let h = new Array<number>(n * n).fill(0);
  for (let i = 0; i < n; i++) h[i * n + i] = 1;
  const maxIterations = options.maxIterations ?? 20000;
  let iteration = 0;
  for (; iteration < maxIterations; iteration++) {
    const norm = Math.max(...g.map(Math.abs));
    if (norm <= options.gradientTolerance) break;
    let p = denseMultiply(h, g, n, n, 1).map((v) => -v);
    let slope = p.reduce((acc, v, i) => acc + v * g[i]!, 0);
    if (!(slope < 0)) {
      h = new Array<number>(n * n).fill(0);
      for (let i = 0; i < n; i++) h[i * n + i] = 1;
      p = g.map((v) => -v);
      slope = -g.reduce((acc, v) => acc + v * v, 0);
    }
    let alpha = 1;
    let next = x;
    let nextValue = f;
    for (let k = 0; k < 60; k++) {
      next = x.map((v, i) => v + alpha * p[i]!);
      nextValue = value(next);
      if (nextValue <= f + 1e-4 * alpha * slope) break;
      alpha /= 2;
    }
    const nextGradient = gradient(next);
    const s = next.map((v, i) => v - x[i]!);
    const y = nextGradient.map((v, i) => v - g[i]!);
    const sy = s.reduce((acc, v, i) => acc + v * y[i]!, 0);
    if (sy > 1e-300) {
      if (iteration === 0) {
        // Shanno–Phua scaling: the first inverse-Hessian guess takes the curvature the first step met.
        const scale = sy / y.reduce((acc, v) => acc + v * v, 0);
        h = h.map((v) => v * scale);
      }
      const hy = denseMultiply(h, y, n, n, 1);
      const yhy = y.reduce((acc, v, i) => acc + v * hy[i]!, 0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          h[i * n + j]! += ((sy + yhy) * s[i]! * s[j]!) / (sy * sy) - (hy[i]! * s[j]! + s[i]! * hy[j]!) / sy;
        }
      }
    }
    if (s.every((v) => v === 0)) break;
    x = next;
    f = nextValue;
    g = nextGradient;
  }
  return { x, iterations: iteration, gradientNorm: Math.max(...g.map(Math.abs)) };
}

export interface SimulatedTrack {
  readonly d: number;
  /** True positions, frame by frame. */
  readonly truth: number[][];
  readonly frames: ReferenceFrame[];
  /** Which observed frames were replaced by gross outliers. */
  readonly gross: boolean[];
}

export interface SimulationOptions {
  d: number;
  frames: number;
  q: number;
  delta: number;
  /** Mean time step; each step is drawn uniformly within ±jitter of it. */
  dt: number;
  jitter: number;
  /** Probability that a frame is missed. */
  missRate: number;
  /** Probability that an observed frame is replaced by a gross outlier. */
  grossRate: number;
  /** Typical standard deviation of the measurement noise, units. */
  noise: number;
  /** Offset of a gross outlier, units. */
  grossOffset: number;
}

/** A random positive definite covariance whose axes and orientation drift slowly with the phase. */
function driftingCovariance(d: number, phase: number, noise: number, rng: Rng): number[] {
  const raw = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) {
    raw[i * d + i] = noise * (0.6 + 0.5 * Math.sin(phase + i * 1.7) ** 2 + 0.1 * rng.uniform());
    for (let j = 0; j < i; j++) raw[i * d + j] = 0.4 * noise * Math.sin(0.7 * phase + i + j);
  }
  return denseMultiply(raw, denseTranspose(raw, d, d), d, d, d);
}

/**
 * A constant-velocity track drawn from the motion prior itself (so the prior is the truth's), observed
 * with Huber noise of precision κΣ⁻¹ around the truth, some frames missed and some gross.
 */
/**
 * The coverage checks' clean constant-velocity tracks: 40 frames at 30 fps, steps jittered ±30 %, about
 * 2 units of noise, 5 % of frames missed, no gross outliers.
 */
export function cleanCoverageTrack(d: number, q: number, delta: number, dt = 1 / 30): SimulationOptions {
  return { d, frames: 40, q, delta, dt, jitter: 0.3, missRate: 0.05, grossRate: 0, noise: 2, grossOffset: 0 };
}

export function simulateTrack(rng: Rng, sampler: RadialSampler, options: SimulationOptions): SimulatedTrack {
  const { d, q } = options;
  const m = 2 * d;
  const kappa = referenceKappa(d, options.delta);
  let state = new Array<number>(m).fill(0).map((_, i) => (i < d ? 50 * rng.normal() : 5 * rng.normal()));
  let t = 10 * rng.uniform();
  const truth: number[][] = [];
  const frames: ReferenceFrame[] = [];
  const gross: boolean[] = [];
  for (let k = 0; k < options.frames; k++) {
    if (k > 0) {
      const dt = options.dt * (1 + options.jitter * (2 * rng.uniform() - 1));
      t += dt;
      const l = denseCholesky(referenceProcessNoise(dt, q, d), m);
      const w = denseMultiply(
        l,
        Array.from({ length: m }, () => rng.normal()),
        m,
        m,
        1,
      );
      state = denseMultiply(referenceTransition(dt, d), state, m, m, 1).map((v, i) => v + w[i]!);
    }
    const position = state.slice(0, d);
    truth.push(position);
    if (k > 1 && rng.uniform() < options.missRate) {
      frames.push({ t, mean: null });
      gross.push(false);
      continue;
    }
    const covariance = driftingCovariance(d, 0.05 * k, options.noise, rng);
    const whitening = denseCholesky(
      covariance.map((v) => v / kappa),
      d,
    );
    const isGross = rng.uniform() < options.grossRate;
    let mean = Array.from(sampler.sample(rng, 1, position, whitening));
    if (isGross) {
      const direction = Array.from({ length: d }, () => rng.normal());
      const norm = Math.hypot(...direction);
      mean = mean.map((v, i) => v + (options.grossOffset * direction[i]!) / norm);
    }
    frames.push({ t, mean, covariance });
    gross.push(isGross);
  }
  return { d, truth, frames, gross };
}

/** Whether `point` lies in {y : (y − mean)ᵀ C⁻¹ (y − mean) ≤ radius²}. */
export function insideRegion(
  point: ArrayLike<number>,
  mean: ArrayLike<number>,
  covariance: ArrayLike<number>,
  radius: number,
  d: number,
): boolean {
  const e = Array.from(mean, (v, i) => point[i]! - v);
  const quadratic = denseMultiply(e, denseMultiply(denseInverse(covariance, d), e, d, d, 1), 1, d, 1)[0]!;
  return quadratic <= radius * radius;
}
