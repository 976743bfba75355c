import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { cameraFromIntrinsics, type Camera } from '../../src/huber/camera.js';
import { EvidenceError } from '../../src/huber/fusion-errors.js';
import { triangulateDlt, triangulatePoint, type CameraObservation } from '../../src/huber/triangulation.js';
import { rigIntrinsics } from '../helpers/camera-rig.js';
import { RadialSampler, referenceKappa, referenceLoss } from '../helpers/huber-reference.js';
import { bruteForceMinimum } from '../helpers/posterior-reference.js';
import { createRng, type Rng } from '../helpers/prng.js';

const rig = new Map<string, Camera>(
  rigIntrinsics().map(({ name, intrinsics }) => [name, cameraFromIntrinsics(name, intrinsics)]),
);
const cameras = [...rig.values()];

function randomCovariance(rng: Rng, size: number): number[] {
  const angle = rng.range(0, Math.PI);
  const [a, b] = [size * rng.range(0.6, 1.6), size * rng.range(0.6, 1.6)];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c];
}

function observe(
  X: readonly number[],
  offsets: readonly (readonly number[])[] = [],
  covarianceOf: (i: number) => number[] = () => [4, 0, 0, 4],
): CameraObservation[] {
  return cameras.map((camera, i) => {
    const p = camera.project(X);
    const offset = offsets[i] ?? [0, 0];
    return { camera: camera.name, mean: [p[0]! + offset[0]!, p[1]! + offset[1]!], covariance: covarianceOf(i) };
  });
}

/** Σ_c h_δ(‖A_c(π_c(X) − μ_c)‖) with Λ = κΣ⁻¹ by hand, for the brute-force minimizer. */
function referenceCost(observations: readonly CameraObservation[], X: ArrayLike<number>, delta: number): number {
  const k = referenceKappa(2, delta);
  let total = 0;
  for (const o of observations) {
    const p = rig.get(o.camera)!.project(X);
    const [a, b, , d] = Array.from(o.covariance);
    const det = a! * d! - b! * b!;
    const e = [p[0]! - o.mean[0]!, p[1]! - o.mean[1]!];
    const q = (k * (d! * e[0]! * e[0]! - 2 * b! * e[0]! * e[1]! + a! * e[1]! * e[1]!)) / det;
    total += referenceLoss(Math.sqrt(q), delta);
  }
  return total;
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
}

describe('linear triangulation', () => {
  test('recovers a noise-free point, weighted or not', () => {
    const X = [120, -80, 950];
    const observations = observe(X);
    expect(triangulateDlt(rig, observations)).toBeCloseToNested(X, { abs: 1e-6 });
    expect(triangulateDlt(rig, observations, { weighted: false })).toBeCloseToNested(X, { abs: 1e-6 });
  });
});

describe('the mode', () => {
  test('equals a brute-force minimizer (grid, then pattern search) within 1e-6 of the camera distance', () => {
    const rng = createRng(101);
    for (let trial = 0; trial < 3; trial++) {
      const delta = [0.5, 1, 2][trial]!;
      const X = [rng.range(-200, 200), rng.range(-200, 200), rng.range(600, 1200)];
      const observations = observe(
        X,
        cameras.map(() => [3 * rng.normal(), 3 * rng.normal()]),
        () => randomCovariance(rng, 4),
      );
      const result = triangulatePoint(rig, observations, { delta, level: 0.5 });
      const mode = result.mode ?? assert.fail('mode should be unique');
      const start = triangulateDlt(rig, observations, { weighted: false });
      const best = bruteForceMinimum(
        (y) => referenceCost(observations, y, delta),
        Array.from(start, (v) => v - 20),
        Array.from(start, (v) => v + 20),
        12,
      );
      const scale = cameras.reduce((s, c) => s + distance(c.center, mode), 0) / cameras.length;
      expect(mode).toBeCloseToNested(Array.from(best), { abs: 1e-6 * scale });
      assert.ok(result.converged);
    }
  }, 300_000);
});

/** −Σ_c log Σ_k prior_k·|A_k|·exp(−h_δ(‖A_k(π_c(X) − μ_k)‖)) by hand: the mixture cost of docs/spec.md §9. */
function referenceMixtureCost(observations: readonly CameraObservation[], X: ArrayLike<number>, delta: number): number {
  const k = referenceKappa(2, delta);
  let total = 0;
  for (const o of observations) {
    const p = rig.get(o.camera)!.project(X);
    const alternatives = o.alternatives ?? [];
    const parts = [
      { mean: o.mean, covariance: o.covariance, prior: 1 - alternatives.reduce((sum, a) => sum + a.prior, 0) },
      ...alternatives,
    ];
    let sum = 0;
    for (const part of parts) {
      const [a, b, , d] = Array.from(part.covariance);
      const det = a! * d! - b! * b!;
      const e = [p[0]! - part.mean[0]!, p[1]! - part.mean[1]!];
      const q = (k * (d! * e[0]! * e[0]! - 2 * b! * e[0]! * e[1]! + a! * e[1]! * e[1]!)) / det;
      sum += ((part.prior * k) / Math.sqrt(det)) * Math.exp(-referenceLoss(Math.sqrt(q), delta));
    }
    total -= Math.log(sum);
  }
  return total;
}

describe('starts and their early stops', () => {
  test('with a true second minimum (two of four cameras swapped, the partner 2–40 mm away), the mode is the global one', () => {
    // Runs stop early once inside the bowl of a minimum found before (docs/fusion-math.md, Cost); here
    // the two minima are close and about equally deep, the case where a loose stop would pick the wrong one.
    const rng = createRng(262);
    let secondMinima = 0;
    const trials = 6;
    for (let trial = 0; trial < trials; trial++) {
      const delta = [0.5, 1, 2][trial % 3]!;
      const X = [rng.range(-150, 150), rng.range(-150, 150), rng.range(800, 1400)];
      const direction = [rng.normal(), rng.normal(), rng.normal()];
      // Near partners put the two minima within a few of the Laplace approximation's σ of each other.
      const length = (trial % 2 === 0 ? rng.range(20, 40) : rng.range(2, 5)) / Math.hypot(...direction);
      const P = X.map((v, i) => v + length * direction[i]!);
      const swapped = new Set([trial % 4, (trial + 1) % 4]);
      const sigma = rng.range(1, 2);
      const covariance = [sigma * sigma, 0.2 * sigma * sigma, 0.2 * sigma * sigma, 0.8 * sigma * sigma];
      const observations: CameraObservation[] = cameras.map((camera, c) => {
        const [own, partner] = swapped.has(c) ? [camera.project(P), camera.project(X)] : [camera.project(X), camera.project(P)];
        return {
          camera: camera.name,
          mean: [own[0]! + sigma * rng.normal(), own[1]! + sigma * rng.normal()],
          covariance,
          alternatives: [
            { mean: [partner[0]! + sigma * rng.normal(), partner[1]! + sigma * rng.normal()], covariance, prior: 0.2 },
          ],
        };
      });
      const result = triangulatePoint(rig, observations, { delta, level: 0.5 });
      const mode = result.mode ?? assert.fail('mode should be unique');
      const cost = (y: ArrayLike<number>) => referenceMixtureCost(observations, y, delta);
      const global = bruteForceMinimum(
        cost,
        X.map((v, i) => Math.min(v, P[i]!) - 15),
        X.map((v, i) => Math.max(v, P[i]!) + 15),
        16,
      );
      const scale = cameras.reduce((s, c) => s + distance(c.center, mode), 0) / cameras.length;
      expect(mode).toBeCloseToNested(Array.from(global), { abs: 1e-6 * scale });
      // The other candidate holds a local minimum of its own: interior to a box about it, and higher.
      const other = distance(mode, X) < distance(mode, P) ? P : X;
      const reach = Math.min(8, 0.4 * distance(X, P));
      const local = bruteForceMinimum(
        cost,
        other.map((v) => v - reach),
        other.map((v) => v + reach),
        8,
      );
      const interior = other.every((v, i) => Math.abs(local[i]! - v) < 0.95 * reach);
      if (interior && distance(local, mode) > 0.2 * distance(X, P) && cost(local) > cost(mode)) secondMinima++;
    }
    assert.ok(secondMinima >= trials / 2, `only ${secondMinima} of ${trials} instances had a second minimum`);
  }, 300_000);

  test('a stationary point 0.7 mm from the global minimum, found first: the stop does not take it', () => {
    // Turned up by comparing runs with and without early stops on 400 random instances: the first start
    // ends on a point 0.7 mm from the global minimum and 0.005 higher, and a stop on cost and distance
    // alone joined the later runs to it while they were heading for the global minimum (this test
    // fails with that stop).
    const share = (mean: number[], alternative: number[], prior: number): CameraObservation => ({
      camera: '',
      mean,
      covariance: [4, 1.2, 1.2, 3.2],
      alternatives: [{ mean: alternative, covariance: [4, 1.2, 1.2, 3.2], prior }],
    });
    const observations = [
      share([930.3169118493888, 1077.1172056017829], [936.1825591622968, 1077.3487986946125], 0.22889452510280534),
      share([955.982618367274, 1004.1048901088684], [953.2949624315697, 1009.6819287904937], 0.2618407152011059),
      share([985.557444306288, 1194.4828410444468], [995.9514773485365, 1187.5170113755669], 0.21722716755466537),
      share([1000.1261646973999, 1041.9380969669337], [997.9226005692154, 1036.016846213957], 0.11948492951923981),
    ].map((observation, c) => ({ ...observation, camera: cameras[c]!.name }));
    const result = triangulatePoint(rig, observations, { delta: 1, level: 0.5 });
    const mode = result.mode ?? assert.fail('mode should be unique');
    const cost = (y: ArrayLike<number>) => referenceMixtureCost(observations, y, 1);
    const global = bruteForceMinimum(cost, [-40, 30, 1290], [10, 90, 1340], 20);
    const scale = cameras.reduce((s, c) => s + distance(c.center, mode), 0) / cameras.length;
    expect(mode).toBeCloseToNested(Array.from(global), { abs: 1e-6 * scale });
  }, 300_000);
});

describe('sensitivities', () => {
  test('match central differences of the solver (1e-4 relative)', () => {
    const rng = createRng(7);
    const X = [50, 40, 900];
    const observations = observe(
      X,
      cameras.map(() => [2.5 * rng.normal(), 2.5 * rng.normal()]),
      () => randomCovariance(rng, 3),
    );
    const result = triangulatePoint(rig, observations, { delta: 1, level: 0.5, sensitivities: true });
    const sensitivities = result.sensitivities ?? assert.fail('sensitivities');
    const radii = result.cameras.map((c) => c.mahalanobis);
    // Away from the kink of h_δ, where the derivative jumps.
    assert.ok(
      radii.every((r) => Math.abs(r - 1) > 0.05),
      `radii ${radii.join(', ')}`,
    );
    const h = 1e-4;
    observations.forEach((observation, o) => {
      for (let j = 0; j < 2; j++) {
        const moved = (sign: number): Float64Array => {
          const shifted = observations.map((x, k) =>
            k === o ? { ...observation, mean: Array.from(observation.mean, (v, i) => (i === j ? v + sign * h : v)) } : x,
          );
          return triangulatePoint(rig, shifted, { delta: 1, level: 0.5 }).mode ?? assert.fail('mode');
        };
        const plus = moved(1);
        const minus = moved(-1);
        const numeric = [0, 1, 2].map((i) => (plus[i]! - minus[i]!) / (2 * h));
        const analytic = [0, 1, 2].map((i) => sensitivities[o]![i * 2 + j]!);
        const size = Math.max(...numeric.map(Math.abs));
        expect(analytic).toBeCloseToNested(numeric, { abs: 1e-4 * size });
      }
    });
  }, 120_000);
});

describe('calibration on a 4-camera rig', () => {
  test('the region covers the truth at levels 0.5 and 0.9 within ±0.03', () => {
    const trials = 1000;
    const rng = createRng(2026);
    const delta = 1;
    const sampler = new RadialSampler(2, delta);
    const hits = [0, 0];
    for (let trial = 0; trial < trials; trial++) {
      const X = [rng.range(-300, 300), rng.range(-300, 300), rng.range(500, 1500)];
      const observations = cameras.map((camera) => {
        const covariance = randomCovariance(rng, 2 + 6 * rng.uniform());
        // A⁻¹ = C/√κ for Σ = C·Cᵀ.
        const c0 = Math.sqrt(covariance[0]!);
        const c1 = covariance[1]! / c0;
        const c2 = Math.sqrt(covariance[3]! - c1 * c1);
        const root = Math.sqrt(referenceKappa(2, delta));
        const mean = sampler.sample(rng, 1, camera.project(X), [c0 / root, 0, c1 / root, c2 / root]);
        return { camera: camera.name, mean: Array.from(mean), covariance };
      });
      const result = triangulatePoint(rig, observations, { delta, level: 0.5, levels: [0.9] });
      const c = Array.from(result.covariance);
      const e = [0, 1, 2].map((i) => X[i]! - result.position[i]!);
      // eᵀΣ⁻¹e by solving Σ·v = e with Cramer's rule.
      const det3 = (m: number[]): number =>
        m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) -
        m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) +
        m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
      const det = det3(c);
      const v = [0, 1, 2].map((k) => det3(c.map((x, idx) => (idx % 3 === k ? e[Math.floor(idx / 3)]! : x))) / det);
      const q = e.reduce((s, x, i) => s + x * v[i]!, 0);
      if (q <= result.region.radius ** 2) hits[0]!++;
      if (q <= result.regions[0]!.radius ** 2) hits[1]!++;
    }
    expect(hits[0]! / trials).toBeCloseToNested(0.5, { abs: 0.03 });
    expect(hits[1]! / trials).toBeCloseToNested(0.9, { abs: 0.03 });
  }, 300_000);
});

describe('left/right swaps and wild cameras', () => {
  const left = [80, 0, 1000];
  const right = [-80, 0, 1000];
  const swapped = 1;
  const leftObservations = (withAlternatives: boolean): CameraObservation[] =>
    cameras.map((camera, i) => {
      const own = camera.project(i === swapped ? right : left);
      const partner = camera.project(i === swapped ? left : right);
      return {
        camera: camera.name,
        mean: Array.from(own),
        covariance: [4, 0, 0, 4],
        ...(withAlternatives ? { alternatives: [{ mean: Array.from(partner), covariance: [4, 0, 0, 4], prior: 0.05 }] } : {}),
      };
    });

  test('with the flip partner as an alternative, the swapped camera takes component 1 and the point is exact', () => {
    const result = triangulatePoint(rig, leftObservations(true), { delta: 1, level: 0.9 });
    const clean = triangulatePoint(rig, observe(left), { delta: 1, level: 0.9 });
    expect(result.cameras.map((c) => c.component)).toEqual([0, 1, 0, 0]);
    assert.ok(distance(result.position, clean.position) < 1, `${distance(result.position, clean.position)} mm`);
    assert.ok(distance(result.mode ?? assert.fail('mode'), left) < 1);
  });

  test('without alternatives the swapped camera is flagged an outlier', () => {
    const result = triangulatePoint(rig, leftObservations(false), { delta: 1, level: 0.9 });
    expect(result.cameras.map((c) => c.outlier)).toEqual([false, true, false, false]);
  });

  test('a wild camera has bounded influence, unlike the DLT', () => {
    const X = [30, -20, 1000];
    const wild = 1;
    const run = (shift: number) => {
      const observations = observe(
        X,
        cameras.map((_, i) => (i === wild ? [shift, 0.5 * shift] : [0, 0])),
      );
      return {
        robust: triangulatePoint(rig, observations, { delta: 1, level: 0.5 }),
        dlt: triangulateDlt(rig, observations, { weighted: false }),
      };
    };
    const base = run(0);
    const once = run(150);
    const twice = run(300);
    const camera = once.robust.cameras[wild]!;
    assert.ok(camera.outlier && camera.weight < 0.1, JSON.stringify(camera));
    const modeShift = distance(once.robust.mode!, base.robust.mode!);
    const positionShift = distance(once.robust.position, base.robust.position);
    const dltShift = distance(once.dlt, base.dlt);
    // Bounded force: doubling the shift barely moves the mode or the position (measured 0.04 % and 0.3 %
    // of their first moves), and the position's first move is a few % of the DLT's error.
    assert.ok(distance(twice.robust.mode!, once.robust.mode!) < 0.001 * modeShift);
    assert.ok(distance(twice.robust.position, once.robust.position) < 0.01 * positionShift);
    assert.ok(positionShift < 0.05 * dltShift, `${positionShift} vs DLT ${dltShift}`);
    const dltRatio = distance(twice.dlt, base.dlt) / distance(once.dlt, base.dlt);
    expect(dltRatio).toBeCloseToNested(2, { abs: 0.1 });
  });
});

describe('bad evidence names the value', () => {
  const good = observe([0, 0, 1000]);
  test.each([
    ['one camera', good.slice(0, 1), 'observations'],
    ['an unknown camera', [good[0]!, { ...good[1]!, camera: 'nope' }], 'observations[1].camera'],
    ['a camera twice', [good[0]!, good[0]!], 'observations[1].camera'],
    ['a singular covariance', [good[0]!, { ...good[1]!, covariance: [1, 1, 1, 1] }], 'observations[1].covariance'],
    ['a 3-D mean', [good[0]!, { ...good[1]!, mean: [1, 2, 3] }], 'observations[1].mean'],
    [
      'a prior of 1',
      [good[0]!, { ...good[1]!, alternatives: [{ mean: [0, 0], covariance: [1, 0, 0, 1], prior: 1 }] }],
      'observations[1].alternatives[0].prior',
    ],
    [
      'priors summing to 1',
      [good[0]!, { ...good[1]!, alternatives: [0.5, 0.5].map((prior) => ({ mean: [0, 0], covariance: [1, 0, 0, 1], prior })) }],
      'observations[1].alternatives',
    ],
  ])('%s', (_, observations, path) => {
    assert.throws(
      () => triangulatePoint(rig, observations as CameraObservation[], { delta: 1, level: 0.5 }),
      (error: unknown) => error instanceof EvidenceError && error.path === path,
    );
  });
  test('a point whose best fit lies behind a camera', () => {
    // Every camera looks at the origin; a point far behind camera 0 projects in front of the others only
    // by reflection, and its own observation is the reflection of a point behind it.
    const behind = [6000, 400, 1600];
    const observations = observe(behind);
    assert.throws(
      () => triangulatePoint(rig, observations, { delta: 1, level: 0.5 }),
      (error: unknown) => error instanceof EvidenceError && /behind camera/.test(error.message),
    );
  });
});
