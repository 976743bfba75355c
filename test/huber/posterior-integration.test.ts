/**
 * integratePosterior's moments and regions (docs/spec.md §9) against an independent integration of the
 * same posterior from its definition: test/helpers/factor-posterior-reference.ts, a tensor product of
 * Gauss–Legendre panels on a box split at every kink along its lines, whose own error is measured here
 * by refining it. Errors are measured in the posterior's own units: the mean's Mahalanobis distance from the
 * reference mean, and the covariance's largest entry after whitening by the reference covariance.
 */
import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { cameraFromIntrinsics, type Camera } from '../../src/huber/camera.js';
import { defaultQuadrature } from '../../src/huber/point-fusion.js';
import {
  ACCURATE_QUADRATURE,
  FAST_QUADRATURE,
  integratePosterior,
  type PosteriorFactor,
  type QuadratureSettings,
  RayEndCache,
} from '../../src/huber/posterior-integration.js';
import { TRIANGULATION_QUADRATURE, triangulatePoint, type CameraObservation } from '../../src/huber/triangulation.js';
import { rigIntrinsics } from '../helpers/camera-rig.js';
import {
  boxPosterior,
  ellipsoidMasses,
  lowerCholesky,
  REFERENCE_BOX,
  type BoxRule,
  type ReferenceFactor,
} from '../helpers/factor-posterior-reference.js';
import { referenceKappa } from '../helpers/huber-reference.js';
import { denseInverse, denseMultiply } from '../helpers/track-reference.js';
import { createRng, type Rng } from '../helpers/prng.js';

const kappas = new Map<string, number>();
function kappaOf(d: number, delta: number): number {
  const key = `${d}:${delta}`;
  if (!kappas.has(key)) kappas.set(key, referenceKappa(d, delta));
  return kappas.get(key)!;
}

function randomCovariance2(rng: Rng, size: number): number[] {
  const angle = rng.range(0, Math.PI);
  const [a, b] = [size * rng.range(0.5, 1.8), size * rng.range(0.5, 1.8)];
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  return [a * c * c + b * s * s, (a - b) * c * s, (a - b) * c * s, a * s * s + b * c * c];
}

/** W = √κ·C⁻¹ for Σ = C·Cᵀ (2 × 2), so that ‖W(x − μ)‖ is the Huber radius; and log|W|. */
function whitening2(covariance: readonly number[], k: number): { w: number[]; logDet: number } {
  const c0 = Math.sqrt(covariance[0]!);
  const c1 = covariance[1]! / c0;
  const c2 = Math.sqrt(covariance[3]! - c1 * c1);
  const root = Math.sqrt(k);
  return { w: [root / c0, 0, (-root * c1) / (c0 * c2), root / c2], logDet: Math.log(k) - Math.log(c0 * c2) };
}

interface Case {
  label: string;
  d: number;
  delta: number;
  factors: ReferenceFactor[];
}

/**
 * 3-D factors like linearized cameras: each a rank-2 map W·J whose null direction is the camera's viewing
 * ray (J: two rows orthonormal to the ray, 1.2 px per mm), an observation a few pixels off the truth's
 * projection, and for `mixtures` of the cameras a second component 2 σ away of prior 0.3.
 */
function cameraCase(rng: Rng, label: string, cameras: number, delta: number, mixtures = 0): Case {
  const k = kappaOf(2, delta);
  const factors: ReferenceFactor[] = [];
  for (let c = 0; c < cameras; c++) {
    const azimuth = (2 * Math.PI * c) / cameras + rng.range(-0.3, 0.3);
    const elevation = rng.range(-0.4, 0.4);
    const ray = [Math.cos(elevation) * Math.cos(azimuth), Math.cos(elevation) * Math.sin(azimuth), Math.sin(elevation)];
    const across = [-Math.sin(azimuth), Math.cos(azimuth), 0];
    const up = [
      ray[1]! * across[2]! - ray[2]! * across[1]!,
      ray[2]! * across[0]! - ray[0]! * across[2]!,
      ray[0]! * across[1]! - ray[1]! * across[0]!,
    ];
    const jacobian = [...across, ...up].map((v) => 1.2 * v);
    const covariance = randomCovariance2(rng, rng.range(2, 8));
    // The observation: the truth (the origin) projects to 0; the noise is 0–2 standard deviations.
    const observation = [rng.normal() * Math.sqrt(covariance[0]!), rng.normal() * Math.sqrt(covariance[3]!)];
    const own = whitening2(covariance, k);
    const component = (w: number[], logDet: number, mean: number[], prior: number) => ({
      map: denseMultiply(w, jacobian, 2, 2, 3),
      offset: denseMultiply(w, mean, 2, 2, 1),
      logWeight: Math.log(prior) + logDet,
    });
    if (c < mixtures) {
      const alternativeCovariance = covariance.map((v) => 1.3 * v);
      const alternative = whitening2(alternativeCovariance, k);
      const shifted = [observation[0]! + 2 * Math.sqrt(covariance[0]!), observation[1]! - 1.5 * Math.sqrt(covariance[3]!)];
      factors.push([component(own.w, own.logDet, observation, 0.7), component(alternative.w, alternative.logDet, shifted, 0.3)]);
    } else {
      factors.push([component(own.w, own.logDet, observation, 1)]);
    }
  }
  return { label, d: 3, delta, factors };
}

/** d-dimensional observations of one location (full-rank maps), optionally one with an alternative. */
function locationCase(rng: Rng, label: string, d: number, count: number, delta: number, mixtures = 0): Case {
  const k = kappaOf(d, delta);
  const factors: ReferenceFactor[] = [];
  for (let i = 0; i < count; i++) {
    // A = √κ·B with B a random well-conditioned matrix; the observation 0–2 units from the origin.
    const b = Array.from({ length: d * d }, (_, j) => (j % (d + 1) === 0 ? 1 : 0) + 0.4 * rng.normal());
    const map = b.map((v) => Math.sqrt(k) * v * rng.range(0.6, 1.4));
    const mean = Array.from({ length: d }, () => rng.normal());
    const offset = denseMultiply(map, mean, d, d, 1);
    const logDet = Math.log(Math.abs(d === 2 ? map[0]! * map[3]! - map[1]! * map[2]! : det3(map)));
    if (i < mixtures) {
      const shifted = mean.map((v, j) => v + (j === 0 ? 2 : -1));
      factors.push([
        { map, offset, logWeight: Math.log(0.65) + logDet },
        { map, offset: denseMultiply(map, shifted, d, d, 1), logWeight: Math.log(0.35) + logDet },
      ]);
    } else {
      factors.push([{ map, offset, logWeight: 0 }]);
    }
  }
  return { label, d, delta, factors };
}

function det3(m: readonly number[]): number {
  return (
    m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!)
  );
}

/** The least-squares point and (Σ MᵀM)⁻¹ of the first components: a frame within a small factor of the posterior's. */
function gaussNewtonFrame(c: Case): { center: number[]; covariance: number[] } {
  const { d } = c;
  const h = new Array<number>(d * d).fill(0);
  const g = new Array<number>(d).fill(0);
  for (const factor of c.factors) {
    const { map, offset } = factor[0]!;
    const rows = offset.length;
    for (let i = 0; i < d; i++) {
      for (let r = 0; r < rows; r++) g[i]! += map[r * d + i]! * offset[r]!;
      for (let j = 0; j < d; j++) for (let r = 0; r < rows; r++) h[i * d + j]! += map[r * d + i]! * map[r * d + j]!;
    }
  }
  const inverse = denseInverse(h, d);
  const center = denseMultiply(inverse, g, d, d, 1);
  return { center, covariance: inverse.map((v) => v * kappaOf(2, c.delta)) };
}

/** The reference in two passes: a coarse box in the Gauss–Newton frame places the fine one. */
function reference(c: Case, rule: BoxRule = REFERENCE_BOX) {
  const rough = boxPosterior(c.delta, c.factors, gaussNewtonFrame(c), { ...rule, outerPanels: 12, nodes: 4 });
  return boxPosterior(c.delta, c.factors, { center: rough.mean, covariance: rough.covariance }, rule);
}

/** As the service calls it: a rough pass in the Gauss–Newton frame, then the rule in the rough moments' frame. */
function underTest(c: Case, first: QuadratureSettings, second: QuadratureSettings, levels: number[]) {
  const factors = c.factors as PosteriorFactor[];
  const frame = gaussNewtonFrame(c);
  const rough = integratePosterior(
    c.d,
    c.delta,
    factors,
    { center: frame.center, scale: lowerCholesky(frame.covariance, c.d) },
    first,
  );
  return integratePosterior(
    c.d,
    c.delta,
    factors,
    { center: rough.mean, scale: lowerCholesky(rough.covariance, c.d) },
    second,
    levels,
  );
}

/** Mahalanobis distance of `mean` from the reference, and the largest entry of L⁻¹(Σ − Σ_ref)L⁻ᵀ. */
function errors(
  reference: { mean: ArrayLike<number>; covariance: ArrayLike<number> },
  mean: ArrayLike<number>,
  covariance: ArrayLike<number>,
) {
  const d = reference.mean.length;
  const l = lowerCholesky(reference.covariance, d);
  const solve = (b: number[]): number[] => {
    const y = new Array<number>(d).fill(0);
    for (let i = 0; i < d; i++) {
      let sum = b[i]!;
      for (let k = 0; k < i; k++) sum -= l[i * d + k]! * y[k]!;
      y[i] = sum / l[i * d + i]!;
    }
    return y;
  };
  const meanError = Math.hypot(...solve(Array.from(mean, (v, i) => v - reference.mean[i]!)));
  // L⁻¹ D L⁻ᵀ column by column.
  const difference = Array.from(covariance, (v, i) => v - reference.covariance[i]!);
  const left = [0, 1, 2].slice(0, d).map((j) => solve([0, 1, 2].slice(0, d).map((i) => difference[i * d + j]!)));
  const whitened = [0, 1, 2].slice(0, d).map((i) => solve([0, 1, 2].slice(0, d).map((j) => left[j]![i]!)));
  const covarianceError = Math.max(...whitened.flat().map(Math.abs));
  return { meanError, covarianceError };
}

/** The first, frame-placing passes of point fusion (src/huber/point-fusion.ts). */
const FIRST_3D: QuadratureSettings = { ...FAST_QUADRATURE, radialNodes: 4, directions: 6 };
const FIRST_2D: QuadratureSettings = { ...FAST_QUADRATURE, radialNodes: 4, directions: 16 };
const LEVELS = [0.5, 0.9];

interface Tolerances {
  /** Mahalanobis distance of the mean from the reference mean. */
  mean: number;
  /** Largest entry of L⁻¹(Σ − Σ_ref)L⁻ᵀ, Σ_ref = L·Lᵀ: relative error of the covariance in every direction. */
  covariance: number;
  /** |reference mass inside the returned region − level|. */
  level: number;
}

/**
 * integratePosterior as the service calls it (a rough pass in a Gauss–Newton frame, then `rule` in the
 * rough moments' frame) against the reference; its region's mass measured by the reference too.
 */
function checkAgainstReference(
  c: Case,
  first: QuadratureSettings,
  rule: QuadratureSettings,
  tolerances: Tolerances,
  expected = reference(c),
) {
  const actual = underTest(c, first, rule, LEVELS);
  const { meanError, covarianceError } = errors(expected, actual.mean, actual.covariance);
  assert.ok(meanError <= tolerances.mean, `${c.label}: mean off by ${meanError} standard deviations`);
  assert.ok(covarianceError <= tolerances.covariance, `${c.label}: covariance off by ${covarianceError} (whitened)`);
  const masses = ellipsoidMasses(c.delta, c.factors, actual, actual.radii);
  expect(masses, `${c.label}: posterior mass inside the returned regions`).toBeCloseToNested(LEVELS, { abs: tolerances.level });
  return expected;
}

const rng = createRng(5);
const cameraCases = [
  cameraCase(rng, '2 cameras, δ = 1', 2, 1),
  cameraCase(rng, '3 cameras, δ = 0.5', 3, 0.5),
  cameraCase(rng, '4 cameras, δ = 2', 4, 2),
  cameraCase(rng, '4 cameras, one with an alternative, δ = 1', 4, 1, 1),
  cameraCase(rng, '3 cameras, two with an alternative, δ = 0.5', 3, 0.5, 2),
  cameraCase(rng, '2 cameras, one with an alternative, δ = 2', 2, 2, 1),
];
const location3Cases = [
  locationCase(rng, '3 observations, δ = 2', 3, 3, 2),
  locationCase(rng, '2 observations, one with an alternative, δ = 0.5', 3, 2, 0.5, 1),
];
const location2Cases = [locationCase(rng, '3 observations, δ = 1', 2, 3, 1), locationCase(rng, '4 observations, δ = 2', 2, 4, 2)];
const location2Mixture = locationCase(rng, '2 observations, one with an alternative, δ = 0.5', 2, 2, 0.5, 1);

describe('the reference integration', () => {
  test('its own error is below 1e-5: a box 40 % wider with panels 40 % shorter agrees', () => {
    const c = cameraCases[0]!;
    const fine = reference(c, { halfWidth: 14, outerPanels: 40, linePanel: 0.6, nodes: 6 });
    const { meanError, covarianceError } = errors(fine, ...(({ mean, covariance }) => [mean, covariance] as const)(reference(c)));
    assert.ok(meanError < 1e-5 && covarianceError < 1e-5, `${meanError}, ${covarianceError}`);
    const radii = [1.2, 2.1];
    const coarse = ellipsoidMasses(c.delta, c.factors, fine, radii);
    expect(coarse).toBeCloseToNested(
      ellipsoidMasses(c.delta, c.factors, fine, radii, { halfWidth: 14, outerPanels: 40, linePanel: 0.6, nodes: 6 }),
      { abs: 1e-5 },
    );
  }, 120_000);
});

describe('3-D posteriors of linearized cameras (rank-2 factors, with and without alternatives)', () => {
  // TRIANGULATION_QUADRATURE measured up to 1.0e-2 σ (mean), 2.4e-2 (covariance, 2 cameras at δ = 1) and
  // 2.9e-3 (level) here, and 1.7e-2, 2.4e-2, 4.0e-3 over 18 more such cases (docs/fusion-math.md, Cost).
  // The tolerances hold what it does, with a margin, so that a regression shows.
  const triangulation: Tolerances = { mean: 0.015, covariance: 0.035, level: 0.005 };
  for (const c of cameraCases) {
    test(`${c.label}: TRIANGULATION_QUADRATURE (mean ≤ 0.015 σ, covariance ≤ 3.5 %, level ± 0.005)`, () => {
      checkAgainstReference(c, TRIANGULATION_QUADRATURE, TRIANGULATION_QUADRATURE, triangulation);
    }, 120_000);
  }
  // Any direction set with per-ray weights serves, the region's included: the 110-point Lebedev rule with
  // 5-node panels measured at most 1.5e-3 σ (mean), 3.2e-3 (covariance), 4e-4 (level) on these cases.
  const lebedev: QuadratureSettings = {
    ...TRIANGULATION_QUADRATURE,
    lebedevPoints: 110,
    radialNodes: 5,
    maxPanel: 1,
    tailCost: 30,
  };
  for (const c of cameraCases) {
    test(`${c.label}: 110-point Lebedev directions (mean ≤ 0.004 σ, covariance ≤ 0.8 %, level ± 0.0015)`, () => {
      checkAgainstReference(c, lebedev, lebedev, { mean: 0.004, covariance: 0.008, level: 0.0015 });
    }, 120_000);
  }
  // The same integrator with many rays converges to the reference: the rule's error, not the method's.
  for (const c of [cameraCases[0]!, cameraCases[4]!]) {
    test(`${c.label}: ACCURATE_QUADRATURE agrees within 1e-5`, () => {
      checkAgainstReference(c, TRIANGULATION_QUADRATURE, ACCURATE_QUADRATURE, { mean: 1e-5, covariance: 1e-5, level: 1e-5 });
    }, 120_000);
  }
});

describe('fused locations with the point-fusion defaults', () => {
  // defaultQuadrature says about 1e-3 for d = 3 (measured up to 1.1e-3 here) and 3e-5 for d = 2 (4e-5).
  for (const c of location3Cases) {
    test(`d = 3, ${c.label}: defaultQuadrature(3) (mean and covariance ≤ 2e-3, level ± 1e-3)`, () => {
      checkAgainstReference(c, FIRST_3D, defaultQuadrature(3), { mean: 2e-3, covariance: 2e-3, level: 1e-3 });
    }, 120_000);
  }
  for (const c of location2Cases) {
    test(`d = 2, ${c.label}: defaultQuadrature(2) (mean and covariance ≤ 1e-4, level ± 3e-5)`, () => {
      checkAgainstReference(c, FIRST_2D, defaultQuadrature(2), { mean: 1e-4, covariance: 1e-4, level: 3e-5 });
    }, 120_000);
  }
  test(`d = 2, ${location2Mixture.label}: defaultQuadrature(2) (mean and covariance ≤ 2e-3, level ± 3e-4)`, () => {
    // A mixture is not a point-fusion input; its extra kinks cost the 32-ray rule about 1e-3.
    checkAgainstReference(location2Mixture, FIRST_2D, defaultQuadrature(2), { mean: 2e-3, covariance: 2e-3, level: 3e-4 });
  }, 120_000);
});

describe("triangulatePoint's position and covariance are the linearized posterior's (docs/spec.md §9)", () => {
  const rig = new Map<string, Camera>(
    rigIntrinsics().map(({ name, intrinsics }) => [name, cameraFromIntrinsics(name, intrinsics)]),
  );

  /**
   * Each camera's factor with its projection linearized at X̂, built here from camera.project and a central
   * difference Jacobian: residual W_k(π(X̂) + J(X − X̂) − μ_k) = W_k·J·X − W_k(J·X̂ − π(X̂) + μ_k).
   */
  function linearizedFactors(
    observations: readonly CameraObservation[],
    at: readonly number[],
    delta: number,
  ): ReferenceFactor[] {
    const k = kappaOf(2, delta);
    return observations.map((observation) => {
      const camera = rig.get(observation.camera)!;
      const projected = camera.project(at);
      const step = 1e-3;
      const columns = [0, 1, 2].map((j) => {
        const plus = camera.project(at.map((v, i) => (i === j ? v + step : v)));
        const minus = camera.project(at.map((v, i) => (i === j ? v - step : v)));
        return [(plus[0]! - minus[0]!) / (2 * step), (plus[1]! - minus[1]!) / (2 * step)];
      });
      const jacobian = [0, 1].flatMap((i) => columns.map((column) => column[i]!));
      const jacobianAt = denseMultiply(jacobian, at, 2, 3, 1);
      const alternatives = observation.alternatives ?? [];
      const ownPrior = 1 - alternatives.reduce((s, a) => s + a.prior, 0);
      return [{ mean: observation.mean, covariance: observation.covariance, prior: ownPrior }, ...alternatives].map(
        ({ mean, covariance, prior }) => {
          const { w, logDet } = whitening2(Array.from(covariance), k);
          const target = [0, 1].map((i) => jacobianAt[i]! - projected[i]! + mean[i]!);
          return {
            map: denseMultiply(w, jacobian, 2, 2, 3),
            offset: denseMultiply(w, target, 2, 2, 1),
            logWeight: Math.log(prior) + logDet,
          };
        },
      );
    });
  }

  function observations(seed: number, cameras: readonly string[], alternatives: number): CameraObservation[] {
    const random = createRng(seed);
    const X = [random.range(-200, 200), random.range(-200, 200), random.range(600, 1200)];
    return cameras.map((name, c) => {
      const covariance = randomCovariance2(random, random.range(2, 8));
      const p = rig.get(name)!.project(X);
      const mean = [
        p[0]! + 1.5 * random.normal() * Math.sqrt(covariance[0]!),
        p[1]! + 1.5 * random.normal() * Math.sqrt(covariance[3]!),
      ];
      if (c >= alternatives) return { camera: name, mean, covariance };
      const alternative = {
        mean: [mean[0]! + 2 * Math.sqrt(covariance[0]!), mean[1]! - Math.sqrt(covariance[3]!)],
        covariance,
        prior: 0.3,
      };
      return { camera: name, mean, covariance, alternatives: [alternative] };
    });
  }

  // Measured: position 3.5e-3, 1.9e-2 and 2.6e-5 standard deviations from the exact mean; covariance 1.1e-2,
  // 4.7e-2 and 5.6e-4 off (the mixture at δ = 0.5 is the worst); with ACCURATE_QUADRATURE on the same
  // linearized factors both agree with the reference within 4e-6, so this is TRIANGULATION_QUADRATURE's error.
  const tolerances: Tolerances = { mean: 0.03, covariance: 0.07, level: 0.01 };
  const all = [...rig.keys()];
  for (const [label, seed, cameras, alternatives, delta] of [
    ['4 cameras, δ = 1', 41, all, 0, 1],
    ['4 cameras, two with an alternative, δ = 0.5', 42, all, 2, 0.5],
    ['2 cameras, δ = 2', 43, all.slice(0, 2), 0, 2],
  ] as const) {
    test(`${label}: position within 0.03 σ of the mean, covariance within 7 %, level ± 0.01`, () => {
      const given = observations(seed, cameras, alternatives);
      const result = triangulatePoint(rig, given, { delta, level: 0.5, levels: [0.9] });
      const position = Array.from(result.position);
      const c: Case = { label, d: 3, delta, factors: linearizedFactors(given, position, delta) };
      const expected = reference(c);
      const { meanError, covarianceError } = errors(expected, position, result.covariance);
      // The fixed point: the posterior linearized at `position` has its mean there, to the rule's accuracy.
      assert.ok(meanError <= tolerances.mean, `position is ${meanError} standard deviations from that posterior's mean`);
      assert.ok(covarianceError <= tolerances.covariance, `covariance off by ${covarianceError} (whitened)`);
      const masses = ellipsoidMasses(delta, c.factors, { mean: position, covariance: result.covariance }, [
        result.region.radius,
        result.regions[0]!.radius,
      ]);
      expect(masses).toBeCloseToNested(LEVELS, { abs: tolerances.level });
    }, 120_000);
  }
});

describe('ray ends carried from one call to the next (RayEndCache)', () => {
  const c = cameraCases[4]!;
  const factors = c.factors as PosteriorFactor[];
  const frameOf = () => {
    const frame = gaussNewtonFrame(c);
    return { center: frame.center, scale: lowerCholesky(frame.covariance, c.d) };
  };
  const shifted = (by: number) =>
    factors.map((factor) => factor.map((component) => ({ ...component, offset: Array.from(component.offset, (v) => v + by) })));

  test('a new cache changes nothing; the same posterior again reuses its ends and gives the same result', () => {
    const frame = frameOf();
    const plain = integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, LEVELS);
    const cache = new RayEndCache();
    expect(integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, LEVELS, cache)).toEqual(plain);
    assert.equal(cache.lengths.length, 72);
    assert.ok(cache.lengths.every((length) => length > 1 && Number.isFinite(length)));
    expect(integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, LEVELS, cache)).toEqual(plain);
    expect([cache.searched, cache.reused]).toEqual([1, 1]);
  });

  test('moved by 1e-6 of its σ (a fixed-point pass) it reuses them, and agrees with a fresh search to 1e-9', () => {
    const frame = frameOf();
    const cache = new RayEndCache();
    integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, [], cache);
    const moved = shifted(1e-6);
    const fresh = integratePosterior(3, c.delta, moved, frame, TRIANGULATION_QUADRATURE, LEVELS);
    const carried = integratePosterior(3, c.delta, moved, frame, TRIANGULATION_QUADRATURE, LEVELS, cache);
    expect([cache.searched, cache.reused]).toEqual([1, 1]);
    const { meanError, covarianceError } = errors(fresh, carried.mean, carried.covariance);
    assert.ok(meanError < 1e-9 && covarianceError < 1e-9, `${meanError}, ${covarianceError}`);
    expect(carried.radii).toBeCloseToNested(fresh.radii, { rel: 1e-9 });
  });

  test('moved by 1e-3 of its σ, in another frame, with another tail or δ, it searches again: the fresh result', () => {
    const frame = frameOf();
    const cache = new RayEndCache();
    integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, [], cache);
    const moved = shifted(1e-3);
    expect(integratePosterior(3, c.delta, moved, frame, TRIANGULATION_QUADRATURE, LEVELS, cache)).toEqual(
      integratePosterior(3, c.delta, moved, frame, TRIANGULATION_QUADRATURE, LEVELS),
    );
    const wider = { center: frame.center, scale: Array.from(frame.scale, (v) => 1.5 * v) };
    expect(integratePosterior(3, c.delta, moved, wider, TRIANGULATION_QUADRATURE, LEVELS, cache)).toEqual(
      integratePosterior(3, c.delta, moved, wider, TRIANGULATION_QUADRATURE, LEVELS),
    );
    // The same residuals under another rule's tail or another δ end elsewhere.
    const longerTail = { ...TRIANGULATION_QUADRATURE, tailCost: 30 };
    expect(integratePosterior(3, c.delta, moved, wider, longerTail, LEVELS, cache)).toEqual(
      integratePosterior(3, c.delta, moved, wider, longerTail, LEVELS),
    );
    expect(integratePosterior(3, 2 * c.delta, moved, wider, longerTail, LEVELS, cache)).toEqual(
      integratePosterior(3, 2 * c.delta, moved, wider, longerTail, LEVELS),
    );
    expect([cache.searched, cache.reused]).toEqual([5, 0]);
  });

  test('ends that are reused are used: a cache cut at one σ loses most of the mass', () => {
    const frame = frameOf();
    const cache = new RayEndCache();
    const plain = integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, [], cache);
    cache.lengths.fill(1);
    const cut = integratePosterior(3, c.delta, factors, frame, TRIANGULATION_QUADRATURE, [], cache);
    assert.ok(cut.logMass < plain.logMass - 0.5, `${cut.logMass} against ${plain.logMass}`);
  });
});
