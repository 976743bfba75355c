/**
 * ∂mode/∂μ_c of triangulatePoint (docs/spec.md §9: 3 × 2 per camera, with respect to its own mean,
 * component 0) against central finite differences, on rigs where cameras carry alternatives whose
 * responsibility is large enough that the mixture's spread term (the responsibilities' own dependence on
 * X and on μ_c) changes the answer, and on rigs without alternatives.
 *
 * The differences are of triangulatePoint's own mode, with or without alternatives: its final Newton
 * polish uses the full Hessian (the mixture's spread term included), so it converges quadratically and
 * the mode is the optimum to rounding (gradient ~1e-13). When the polish used the Hessian-sum-mixture
 * matrix the mode stopped 1e-8 to 1e-7 mm short with alternatives, and the 1e-4 px quotient of it below
 * was off by 4e-4 relative at δ = 0.5 (seed 11), failing the 1e-4 check. The mode is also checked
 * against a Newton solve of the mixture cost written here from the definition (the "finished optimum").
 */
import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { cameraFromIntrinsics, type Camera } from '../../src/huber/camera.js';
import { triangulatePoint, type CameraObservation } from '../../src/huber/triangulation.js';
import { rigIntrinsics } from '../helpers/camera-rig.js';
import { referenceKappa, referenceLoss } from '../helpers/huber-reference.js';
import { createRng, type Rng } from '../helpers/prng.js';

const rig = new Map<string, Camera>(
  rigIntrinsics().map(({ name, intrinsics }) => [name, cameraFromIntrinsics(name, intrinsics)]),
);
const cameras = [...rig.values()];

/** docs/spec.md §9 and issue 10: sensitivities within 1e-4 relative of finite differences, away from the kink. */
const TOLERANCE = 1e-4;
/** Step in pixels for differences of triangulatePoint's own mode (polished to rounding). */
const MODE_STEP = 1e-4;
/** Share of the camera distance between the mode and the finished optimum. */
const OPTIMUM_AGREEMENT = 1e-9;
/** No component's radius within this share of δ at the mode, where h_δ's second derivative jumps. */
const KINK_MARGIN = 0.05;

function randomCovariance(rng: Rng, size: number): number[] {
  const angle = rng.range(0, Math.PI);
  const [a, b] = [size * rng.range(0.6, 1.6), size * rng.range(0.6, 1.6)];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c];
}

/** `mean` moved by C·offset for Σ = C·Cᵀ: `offset` standard deviations in the metric of `covariance`. */
function displaced(mean: readonly number[], covariance: readonly number[], offset: readonly number[]): number[] {
  const c0 = Math.sqrt(covariance[0]!);
  const c1 = covariance[1]! / c0;
  const c2 = Math.sqrt(covariance[3]! - c1 * c1);
  return [mean[0]! + c0 * offset[0]!, mean[1]! + c1 * offset[0]! + c2 * offset[1]!];
}

interface ComponentTerm {
  radius: number;
  /** log(prior·|A|) − h_δ(r), |A| = κ/√det Σ for d = 2. */
  logTerm: number;
}

/** Each component of one camera's factor at X, from the definition (docs/spec.md §9). */
const kappas = new Map<number, number>();
function kappaOf(delta: number): number {
  if (!kappas.has(delta)) kappas.set(delta, referenceKappa(2, delta));
  return kappas.get(delta)!;
}

function componentTerms(observation: CameraObservation, X: ArrayLike<number>, delta: number): ComponentTerm[] {
  const k = kappaOf(delta);
  const p = rig.get(observation.camera)!.project(X);
  const alternatives = observation.alternatives ?? [];
  const ownPrior = 1 - alternatives.reduce((s, a) => s + a.prior, 0);
  const own = { mean: observation.mean, covariance: observation.covariance, prior: ownPrior };
  return [own, ...alternatives].map(({ mean, covariance, prior }) => {
    const [a, b, , d] = Array.from(covariance);
    const det = a! * d! - b! * b!;
    const e = [p[0]! - mean[0]!, p[1]! - mean[1]!];
    const radius = Math.sqrt((k * (d! * e[0]! * e[0]! - 2 * b! * e[0]! * e[1]! + a! * e[1]! * e[1]!)) / det);
    return { radius, logTerm: Math.log(prior) + Math.log(k) - 0.5 * Math.log(det) - referenceLoss(radius, delta) };
  });
}

function responsibilities(terms: readonly ComponentTerm[]): number[] {
  const top = Math.max(...terms.map((t) => t.logTerm));
  const total = terms.reduce((s, t) => s + Math.exp(t.logTerm - top), 0);
  return terms.map((t) => Math.exp(t.logTerm - top) / total);
}

/** Σ_c −log Σ_k exp(logTerm_k): the negative log-likelihood that the mode minimizes. */
function mixtureCost(observations: readonly CameraObservation[], X: ArrayLike<number>, delta: number): number {
  let total = 0;
  for (const observation of observations) {
    const terms = componentTerms(observation, X, delta);
    const top = Math.max(...terms.map((t) => t.logTerm));
    total -= top + Math.log(terms.reduce((s, t) => s + Math.exp(t.logTerm - top), 0));
  }
  return total;
}

function solve3(m: readonly (readonly number[])[], b: readonly number[]): number[] {
  const det = (a: readonly (readonly number[])[]) =>
    a[0]![0]! * (a[1]![1]! * a[2]![2]! - a[1]![2]! * a[2]![1]!) -
    a[0]![1]! * (a[1]![0]! * a[2]![2]! - a[1]![2]! * a[2]![0]!) +
    a[0]![2]! * (a[1]![0]! * a[2]![1]! - a[1]![1]! * a[2]![0]!);
  const whole = det(m);
  return [0, 1, 2].map((c) => det(m.map((row, i) => row.map((v, j) => (j === c ? b[i]! : v)))) / whole);
}

/**
 * The optimum near `start` by Newton's method on mixtureCost with difference-quotient derivatives (steps
 * 1e-4 mm for the gradient, 1e-2 mm for the Hessian, which only sets the convergence rate): independent of
 * the solver's Gauss–Newton matrices. Its rounding noise is about 1e-11 / 1 mm⁻² ≈ 1e-11 mm.
 */
function finishedOptimum(observations: readonly CameraObservation[], start: ArrayLike<number>, delta: number): number[] {
  const f = (y: readonly number[]) => mixtureCost(observations, y, delta);
  const shifted = (y: readonly number[], moves: readonly [number, number][]) => {
    const out = [...y];
    for (const [i, h] of moves) out[i]! += h;
    return out;
  };
  let x = Array.from(start);
  for (let iteration = 0; iteration < 30; iteration++) {
    const g = 1e-4;
    const gradient = [0, 1, 2].map((i) => (f(shifted(x, [[i, g]])) - f(shifted(x, [[i, -g]]))) / (2 * g));
    const h = 1e-2;
    const hessian = [0, 1, 2].map((i) =>
      [0, 1, 2].map(
        (j) =>
          (f(
            shifted(x, [
              [i, h],
              [j, h],
            ]),
          ) -
            f(
              shifted(x, [
                [i, h],
                [j, -h],
              ]),
            ) -
            f(
              shifted(x, [
                [i, -h],
                [j, h],
              ]),
            ) +
            f(
              shifted(x, [
                [i, -h],
                [j, -h],
              ]),
            )) /
          (4 * h * h),
      ),
    );
    const step = solve3(hessian, gradient);
    x = x.map((v, i) => v - step[i]!);
    if (Math.hypot(...step) < 1e-13 * Math.hypot(...x)) break;
  }
  return x;
}

interface Instance {
  observations: CameraObservation[];
  delta: number;
}

/**
 * Seeded instances near the rig's centre: every camera's own mean within about a standard deviation of the
 * truth's projection; the `withAlternatives` cameras also carry one alternative 1–2.5 standard deviations
 * from their own mean, of prior 0.2–0.4 and a covariance 0.5–2.3 times as large.
 */
function makeInstance(rng: Rng, delta: number, withAlternatives: readonly boolean[]): Instance {
  const X = [rng.range(-200, 200), rng.range(-200, 200), rng.range(600, 1200)];
  const observations = cameras.map((camera, c): CameraObservation => {
    const covariance = randomCovariance(rng, rng.range(2, 6));
    const mean = displaced(Array.from(camera.project(X)), covariance, [0.6 * rng.normal(), 0.6 * rng.normal()]);
    if (!withAlternatives[c]) return { camera: camera.name, mean, covariance };
    const angle = rng.range(0, 2 * Math.PI);
    const distance = rng.range(1, 2.5);
    const size = rng.range(0.7, 1.5) ** 2;
    const alternative = {
      mean: displaced(mean, covariance, [distance * Math.cos(angle), distance * Math.sin(angle)]),
      covariance: covariance.map((v) => v * size),
      prior: rng.range(0.2, 0.4),
    };
    return { camera: camera.name, mean, covariance, alternatives: [alternative] };
  });
  return { observations, delta };
}

function modeOf(observations: readonly CameraObservation[], delta: number): Float64Array {
  return triangulatePoint(rig, observations, { delta, level: 0.5 }).mode ?? assert.fail('the mode should be unique');
}

/** Which side of δ each component's radius lies on at X: the cost is smooth while none of them changes. */
function sides(observations: readonly CameraObservation[], X: ArrayLike<number>, delta: number): boolean[] {
  return observations.flatMap((o) => componentTerms(o, X, delta).map((c) => c.radius > delta));
}

function meanCameraDistance(X: ArrayLike<number>): number {
  return cameras.reduce((s, c) => s + Math.hypot(X[0]! - c.center[0]!, X[1]! - c.center[1]!, X[2]! - c.center[2]!), 0) / 4;
}

/** Central difference in camera `o`'s own mean, coordinate `j`, of triangulatePoint's mode. */
function finiteDifference(instance: Instance, base: ArrayLike<number>, o: number, j: number): number[] {
  const { observations, delta } = instance;
  const step = MODE_STEP;
  const moved = (sign: number): ArrayLike<number> => {
    const shifted = observations.map((x, k) =>
      k === o ? { ...x, mean: Array.from(x.mean, (v, i) => (i === j ? v + sign * step : v)) } : x,
    );
    const point = modeOf(shifted, delta);
    // The stencil must not straddle the kink of h_δ, or the quotient measures the jump instead.
    assert.deepEqual(sides(shifted, point, delta), sides(observations, base, delta), `camera ${o}: the step crosses the kink`);
    return point;
  };
  const plus = moved(1);
  const minus = moved(-1);
  return [0, 1, 2].map((i) => (plus[i]! - minus[i]!) / (2 * step));
}

interface Found {
  instance: Instance;
  /** The largest responsibility of any alternative at the mode. */
  largestAlternative: number;
}

/**
 * Draws instances until `count` of them have a unique mode away from the kink and an alternative whose
 * responsibility at the mode is at least `minResponsibility` (0: no condition).
 */
function instancesFor(
  seed: number,
  delta: number,
  withAlternatives: readonly boolean[],
  count: number,
  minResponsibility: number,
) {
  const rng = createRng(seed);
  const found: Found[] = [];
  for (let attempt = 0; attempt < 40 && found.length < count; attempt++) {
    const instance = makeInstance(rng, delta, withAlternatives);
    const { mode } = triangulatePoint(rig, instance.observations, { delta, level: 0.5 });
    if (mode === null) continue;
    const terms = instance.observations.map((o) => componentTerms(o, mode, delta));
    if (terms.flat().some((c) => Math.abs(c.radius / delta - 1) < KINK_MARGIN)) continue;
    const largestAlternative = Math.max(0, ...terms.flatMap((t) => responsibilities(t).slice(1)));
    if (largestAlternative < minResponsibility) continue;
    found.push({ instance, largestAlternative });
  }
  assert.equal(found.length, count, `test setup: only ${found.length} usable instances for δ = ${delta}`);
  return found;
}

function checkAgainstFiniteDifferences(instance: Instance, checkOptimum: boolean): void {
  const { observations, delta } = instance;
  const result = triangulatePoint(rig, observations, { delta, level: 0.5, sensitivities: true });
  const sensitivities = result.sensitivities ?? assert.fail('sensitivities should be returned with a unique mode');
  const mode = result.mode ?? assert.fail('the mode should be unique');
  assert.equal(sensitivities.length, observations.length);
  if (checkOptimum) {
    const optimum = finishedOptimum(observations, mode, delta);
    // The finished optimum's difference-quotient gradient carries ~1e-10 of rounding, which the flat
    // depth direction turns into up to 1e-8 mm (measured: 0.7–11e-9 mm with or without alternatives), so
    // this check is coarser than the mode's own accuracy; the 1e-4 px quotients below are the fine check.
    expect(Array.from(mode)).toBeCloseToNested(optimum, { abs: OPTIMUM_AGREEMENT * meanCameraDistance(optimum) });
  }
  observations.forEach((_, o) => {
    for (let j = 0; j < 2; j++) {
      const numeric = finiteDifference(instance, mode, o, j);
      const analytic = [0, 1, 2].map((i) => sensitivities[o]![i * 2 + j]!);
      const size = Math.max(...numeric.map(Math.abs));
      // A column of zeros would make the check vacuous; every camera pulls on the mode.
      assert.ok(size > 1e-3, `camera ${o}, coordinate ${j}: |∂mode/∂μ| = ${size}`);
      expect(analytic, `δ = ${delta}, camera ${o}, ∂mode/∂μ_${j}`).toBeCloseToNested(numeric, { abs: TOLERANCE * size });
    }
  });
}

describe('triangulation sensitivities ∂mode/∂μ_c against central differences (1e-4 relative)', () => {
  // Cameras 0, 1 and 3 carry an alternative; camera 2 is a plain Huber factor.
  const mixed = [true, true, false, true];

  for (const [delta, seed] of [
    [0.5, 11],
    [1, 12],
    [2, 13],
  ] as const) {
    test(`with alternatives of responsibility ≥ 0.05 at the mode, δ = ${delta}`, () => {
      for (const { instance } of instancesFor(seed, delta, mixed, 2, 0.05)) checkAgainstFiniteDifferences(instance, true);
    }, 300_000);
  }

  test('every camera with an alternative, one of them with responsibility ≥ 0.2 at the mode', () => {
    const [found] = instancesFor(21, 1, [true, true, true, true], 1, 0.2);
    checkAgainstFiniteDifferences(found!.instance, true);
  }, 300_000);

  for (const [delta, seed] of [
    [0.5, 31],
    [2, 32],
  ] as const) {
    test(`without alternatives, differences of triangulatePoint's own mode, δ = ${delta}`, () => {
      const [found] = instancesFor(seed, delta, [false, false, false, false], 1, 0);
      checkAgainstFiniteDifferences(found!.instance, true);
    }, 300_000);
  }
});
