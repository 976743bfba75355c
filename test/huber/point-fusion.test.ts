import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { EvidenceError } from '../../src/huber/fusion-errors.js';
import { fusePoint, type GaussianObservation } from '../../src/huber/point-fusion.js';
import { RadialSampler, referenceKappa } from '../helpers/huber-reference.js';
import {
  bruteForceMinimum,
  lowerFactor,
  randomCovariance,
  referenceCost,
  referenceMoments,
  referenceQuantile,
} from '../helpers/posterior-reference.js';
import { createRng } from '../helpers/prng.js';

/** A random SPD covariance with eigenvalues spread over a factor of up to ~10. */

/** Λ = κ Σ⁻¹ by cofactors, written out here so the reference does not use the library's linear algebra. */
function referencePrecision(covariance: readonly number[], d: number, delta: number): number[] {
  const k = referenceKappa(d, delta);
  const c = covariance;
  if (d === 2) {
    const det = c[0]! * c[3]! - c[1]! * c[2]!;
    return [c[3], -c[1]!, -c[2]!, c[0]].map((v) => (k * v!) / det);
  }
  const cof = [
    c[4]! * c[8]! - c[5]! * c[7]!,
    c[2]! * c[7]! - c[1]! * c[8]!,
    c[1]! * c[5]! - c[2]! * c[4]!,
    c[5]! * c[6]! - c[3]! * c[8]!,
    c[0]! * c[8]! - c[2]! * c[6]!,
    c[2]! * c[3]! - c[0]! * c[5]!,
    c[3]! * c[7]! - c[4]! * c[6]!,
    c[1]! * c[6]! - c[0]! * c[7]!,
    c[0]! * c[4]! - c[1]! * c[3]!,
  ];
  const det = c[0]! * cof[0]! + c[1]! * cof[3]! + c[2]! * cof[6]!;
  return cof.map((v) => (k * v) / det);
}

function expectEvidenceError(run: () => unknown, path: string): void {
  assert.throws(run, (error: unknown) => error instanceof EvidenceError && error.path === path);
}

describe('exact identities', () => {
  test.each([
    [2, 1, 0.5],
    [2, 0.5, 0.9],
    [3, 2, 0.9],
  ])('one observation returns itself (d = %i, δ = %f, level %f)', (d, delta, level) => {
    const rng = createRng(3 + d);
    const observation = { mean: Array.from({ length: d }, () => 100 * rng.normal()), covariance: randomCovariance(rng, d, 4) };
    const fused = fusePoint([observation], { delta, level, sensitivities: true });
    expect(fused.mean).toBeCloseToNested(observation.mean, { rel: 1e-15 });
    expect(fused.mode).toBeCloseToNested(observation.mean, { rel: 1e-15 });
    expect(fused.covariance).toBeCloseToNested(observation.covariance, { rel: 1e-15 });
    expect(fused.region.radius).toBeCloseToNested(referenceQuantile(d, delta, level) / Math.sqrt(referenceKappa(d, delta)), {
      rel: 1e-9,
    });
    assert.equal(fused.observations[0]!.outlier, false);
  });

  test.each([
    [2, 1, 2],
    [2, 0.5, 4],
    [3, 1, 3],
  ])('n identical observations are one Huber with nΛ and √n·δ (d = %i, δ = %f, n = %i)', (d, delta, n) => {
    const rng = createRng(11 * n + d);
    const observation = { mean: Array.from({ length: d }, () => rng.normal()), covariance: randomCovariance(rng, d) };
    const fused = fusePoint(
      Array.from({ length: n }, () => observation),
      { delta, level: 0.9, sensitivities: true },
    );
    const deltaPrime = Math.sqrt(n) * delta;
    const shrink = referenceKappa(d, deltaPrime) / (n * referenceKappa(d, delta));
    expect(fused.covariance).toBeCloseToNested(
      observation.covariance.map((v) => v * shrink),
      { rel: 1e-10 },
    );
    expect(fused.region.radius).toBeCloseToNested(
      referenceQuantile(d, deltaPrime, 0.9) / Math.sqrt(referenceKappa(d, deltaPrime)),
      {
        rel: 1e-9,
      },
    );
    const identityShare = Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 / n : 0));
    for (const s of fused.sensitivities ?? assert.fail('sensitivities'))
      expect(s).toBeCloseToNested(identityShare, { abs: 1e-15 });
  });

  test('two equal observations: the posterior covariance is between the Laplace and the κ(ΣwΛ)⁻¹ candidates (SPEC §9)', () => {
    const observation = { mean: [0, 0], covariance: [1, 0, 0, 1] };
    const fused = fusePoint([observation, observation], { delta: 1, level: 0.5 });
    // Laplace: (2Λ)⁻¹ = Σ/(2κ₂(1)); κ(ΣwΛ)⁻¹ = Σ/2. SPEC §9 quotes 1.7× and 1.8× off.
    const laplace = 1 / (2 * referenceKappa(2, 1));
    const weighted = 0.5;
    expect(fused.covariance[0]! / laplace).toBeCloseToNested(1.7, { abs: 0.05 });
    expect(weighted / fused.covariance[0]!).toBeCloseToNested(1.8, { abs: 0.05 });
  });
});

describe('calibration by Monte Carlo: the region covers the truth at its level', () => {
  // Seeded draws from the model: a truth, then each observation from its Huber distribution about it
  // (the test helper's radial sampler, itself checked against κ and r_p in distribution.test.ts). For a
  // location with a flat prior the posterior region's coverage is exactly its level (SPEC §9), so the
  // tolerance is the binomial noise alone: 3σ over 2000 trials.
  test.each([2, 3])(
    'd = %i: 2–6 observations, δ ∈ {0.5, 1, 2}, levels 0.5 and 0.9',
    (d) => {
      const trials = 2000;
      const rng = createRng(500 + d);
      const samplers = new Map<number, RadialSampler>();
      const hits = [0, 0];
      for (let trial = 0; trial < trials; trial++) {
        const n = 2 + (trial % 5);
        const delta = [0.5, 1, 2][trial % 3]!;
        const sampler = samplers.get(delta) ?? new RadialSampler(d, delta);
        samplers.set(delta, sampler);
        const truth = Array.from({ length: d }, () => 50 * rng.normal());
        const observations = Array.from({ length: n }, () => {
          const covariance = randomCovariance(rng, d, 0.5 + 3 * rng.uniform());
          // A⁻¹ = C/√κ for Σ = C·Cᵀ, since Λ = κΣ⁻¹.
          const inverseRoot = lowerFactor(covariance, d).map((v) => v / Math.sqrt(referenceKappa(d, delta)));
          return { mean: Array.from(sampler.sample(rng, 1, truth, inverseRoot)), covariance };
        });
        const fused = fusePoint(observations, { delta, level: 0.5, levels: [0.9] });
        const precision = referencePrecision(Array.from(fused.covariance), d, 1).map((v) => v / referenceKappa(d, 1));
        let q = 0;
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) q += (truth[i]! - fused.mean[i]!) * precision[i * d + j]! * (truth[j]! - fused.mean[j]!);
        if (q <= fused.region.radius ** 2) hits[0]!++;
        if (q <= fused.regions[0]!.radius ** 2) hits[1]!++;
      }
      [0.5, 0.9].forEach((level, k) => {
        expect(hits[k]! / trials).toBeCloseToNested(level, { abs: 3 * Math.sqrt((level * (1 - level)) / trials) });
      });
    },
    300_000,
  );
});

describe('posterior moments against nested adaptive quadrature', () => {
  test.each([
    [2, 1, 3, 21],
    [2, 0.5, 2, 22],
    [2, 2, 4, 24],
  ])(
    'd = %i, δ = %f, %i observations',
    (d, delta, n, seed) => {
      const rng = createRng(seed);
      const observations: GaussianObservation[] = Array.from({ length: n }, () => ({
        mean: Array.from({ length: d }, () => 2 * rng.normal()),
        covariance: randomCovariance(rng, d),
      }));
      const fused = fusePoint(observations, { delta, level: 0.9 });
      const factors = observations.map((o) => ({
        mean: o.mean,
        precision: referencePrecision(o.covariance as number[], d, delta),
      }));
      const sd = Array.from({ length: d }, (_, i) => Math.sqrt(fused.covariance[i * d + i]!));
      const reference = referenceMoments(
        factors,
        delta,
        Array.from(fused.mean),
        sd.map((s) => 20 * s),
        1e-7,
      );
      const scale = Math.max(...sd);
      // The default 2-D rule (32 rays) is good to about 5e-5 of the standard deviations.
      expect(fused.mean).toBeCloseToNested(reference.mean, { abs: 1e-4 * scale });
      expect(fused.covariance).toBeCloseToNested(reference.covariance, { abs: 2e-4 * scale * scale });
    },
    120_000,
  );
});

describe('the mode', () => {
  test.each([2, 3])('equals a brute-force minimizer where unique (d = %i)', (d) => {
    const rng = createRng(40 + d);
    let checked = 0;
    for (let trial = 0; trial < 6; trial++) {
      const delta = [0.5, 1, 2][trial % 3];
      const n = 2 + (trial % 3);
      const observations = Array.from({ length: n }, () => ({
        mean: Array.from({ length: d }, () => 1.5 * rng.normal()),
        covariance: randomCovariance(rng, d),
      }));
      const fused = fusePoint(observations, { delta: delta!, level: 0.5 });
      if (fused.mode === null) continue;
      checked++;
      const factors = observations.map((o) => ({ mean: o.mean, precision: referencePrecision(o.covariance, d, delta!) }));
      const lo = Array.from({ length: d }, (_, i) => Math.min(...observations.map((o) => o.mean[i]!)) - 1);
      const hi = Array.from({ length: d }, (_, i) => Math.max(...observations.map((o) => o.mean[i]!)) + 1);
      const best = bruteForceMinimum((y) => referenceCost(factors, y, delta!), lo, hi, d === 2 ? 80 : 25);
      const spread = Math.max(...hi.map((h, i) => h - lo[i]!));
      expect(fused.mode).toBeCloseToNested(Array.from(best), { abs: 1e-6 * spread });
    }
    assert.ok(checked >= 4, `only ${checked} unique modes`);
  });

  test('is null where two equal observations beyond 2δ leave a segment of minimizers', () => {
    const fused = fusePoint(
      [
        { mean: [0, 0], covariance: [1, 0, 0, 1] },
        { mean: [10, 0], covariance: [1, 0, 0, 1] },
      ],
      { delta: 1, level: 0.5, sensitivities: true },
    );
    assert.equal(fused.mode, null);
    assert.equal(fused.sensitivities, null);
    // By symmetry. This flat-topped posterior is the default rule's hardest case: about 4e-4 of its sd.
    expect(fused.mean).toBeCloseToNested([5, 0], { abs: 1e-3 * Math.sqrt(fused.covariance[0]!) });
  });
});

describe('sensitivities', () => {
  test.each([2, 3])('match central differences of the solver and sum to I (d = %i)', (d) => {
    const rng = createRng(60 + d);
    const observations = Array.from({ length: 3 }, () => ({
      mean: Array.from({ length: d }, () => 1.2 * rng.normal()),
      covariance: randomCovariance(rng, d),
    }));
    const fused = fusePoint(observations, { delta: 1, level: 0.5, sensitivities: true });
    const mode = fused.mode ?? assert.fail('mode should be unique');
    const sensitivities = fused.sensitivities ?? assert.fail('sensitivities');
    const sum = new Float64Array(d * d);
    for (const s of sensitivities) for (let i = 0; i < d * d; i++) sum[i]! += s[i]!;
    expect(sum).toBeCloseToNested(
      Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)),
      { abs: 1e-12 },
    );
    const h = 1e-5;
    observations.forEach((_, o) => {
      for (let j = 0; j < d; j++) {
        const shifted = (sign: number): Float64Array => {
          const moved = observations.map((x, k) =>
            k === o ? { ...x, mean: x.mean.map((v, i) => (i === j ? v + sign * h : v)) } : x,
          );
          return fusePoint(moved, { delta: 1, level: 0.5 }).mode ?? assert.fail('mode');
        };
        const plus = shifted(1);
        const minus = shifted(-1);
        const column = Array.from({ length: d }, (_, i) => (plus[i]! - minus[i]!) / (2 * h));
        const analytic = Array.from({ length: d }, (_, i) => sensitivities[o]![i * d + j]!);
        expect(analytic).toBeCloseToNested(column, { rel: 1e-4, abs: 1e-7 });
      }
    });
    expect(Array.from(mode).every(Number.isFinite)).toBe(true);
  });
});

describe('bad evidence names the value', () => {
  const good = { mean: [0, 0], covariance: [1, 0, 0, 1] };
  test.each([
    ['an empty list', [], 'observations'],
    ['d = 4', [{ mean: [0, 0, 0, 0], covariance: new Array(16).fill(0) }], 'observations[0].mean'],
    ['mismatched dimensions', [good, { mean: [0, 0, 0], covariance: [1, 0, 0, 0, 1, 0, 0, 0, 1] }], 'observations[1].mean'],
    ['a non-finite mean', [good, { mean: [0, Number.NaN], covariance: [1, 0, 0, 1] }], 'observations[1].mean[1]'],
    ['a short covariance', [good, { mean: [0, 0], covariance: [1, 0, 1] }], 'observations[1].covariance'],
    ['a non-symmetric covariance', [good, { mean: [0, 0], covariance: [1, 0.5, 0, 1] }], 'observations[1].covariance'],
    ['an indefinite covariance', [good, { mean: [0, 0], covariance: [1, 2, 2, 1] }], 'observations[1].covariance'],
    ['a singular covariance', [good, { mean: [0, 0], covariance: [1, 1, 1, 1] }], 'observations[1].covariance'],
    ['an infinite variance', [good, { mean: [0, 0], covariance: [Infinity, 0, 0, 1] }], 'observations[1].covariance[0]'],
  ])('%s', (_, observations, path) => {
    expectEvidenceError(() => fusePoint(observations as GaussianObservation[], { delta: 1, level: 0.5 }), path);
  });
  test.each([
    [{ delta: 0, level: 0.5 }, 'delta'],
    [{ delta: Number.NaN, level: 0.5 }, 'delta'],
    [{ delta: 1, level: 1 }, 'level'],
    [{ delta: 1, level: 0 }, 'level'],
  ])('options %j', (options, path) => {
    expectEvidenceError(() => fusePoint([good, good], options), path);
  });
});
