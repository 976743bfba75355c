import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import {
  createDistribution,
  decode,
  huberConstants,
  mirror,
  negativeLogLikelihood,
  pushForward,
  radialQuantile,
} from '../../src/huber/index.js';
import { invertGeneral, multiply, transpose } from '../../src/huber/linalg.js';
import { RadialSampler, referenceLoss, referenceNormalizer, sampleCovariance } from '../helpers/huber-reference.js';
import { integrate } from '../helpers/integrate.js';
import { createRng } from '../helpers/prng.js';

/** |estimate − truth| ≤ z standard errors for every entry of a sample covariance (errors from the samples). */
function assertCovarianceWithin(
  samples: Float64Array,
  d: number,
  mean: ArrayLike<number>,
  truth: ArrayLike<number>,
  z: number,
  message: string,
): void {
  const count = samples.length / d;
  const estimate = sampleCovariance(samples, d, mean);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sq = 0;
      for (let s = 0; s < count; s++) {
        const v = (samples[s * d + i]! - mean[i]!) * (samples[s * d + j]! - mean[j]!) - estimate[i * d + j]!;
        sq += v * v;
      }
      const se = Math.sqrt(sq / count / count);
      expect(estimate[i * d + j], `${message} Σ[${i}][${j}]`).toBeCloseToNested(truth[i * d + j]!, { abs: z * se });
    }
  }
}

describe('negativeLogLikelihood', () => {
  it('integrates to one (d = 1) and matches the density formula', () => {
    const dist = createDistribution([0.7], [4], 0.6);
    const total = integrate((y) => Math.exp(-negativeLogLikelihood(dist, [y])), -80, 80, 1e-13);
    expect(total).toBeCloseToNested(1, { abs: 1e-10 });
  });

  it('integrates to one in d = 2 with a correlated precision', () => {
    const dist = createDistribution([1, -2], [2, 0.6, 0.6, 0.5], 1.3);
    const inner = (x: number): number => integrate((y) => Math.exp(-negativeLogLikelihood(dist, [x, y])), -60, 60, 1e-11);
    expect(integrate(inner, -40, 40, 1e-10)).toBeCloseToNested(1, { abs: 1e-8 });
  });

  it('equals −log|A| + log c_d(δ) + h_δ(r) computed independently (d = 3)', () => {
    const raw = [0.5, -1, 2, 3, 1, -2, 4, 0.5, -1];
    const dist = decode(raw, 0, 3, { delta: 0.8, theta: 1, eigenvalueOffset: 5, parameterization: 'nu' });
    const y = [3, -2, 1];
    const diff = y.map((v, i) => v - dist.mean[i]!);
    let r2 = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) r2 += diff[i]! * dist.precision[i * 3 + j]! * diff[j]!;
    const logDetA = dist.remappedEigenvalues.reduce((s, g) => s + Math.log(g), 0);
    const expected = -logDetA + Math.log(referenceNormalizer(3, 0.8)) + referenceLoss(Math.sqrt(r2), 0.8);
    expect(negativeLogLikelihood(dist, y)).toBeCloseToNested(expected, { abs: 1e-10 });
  });

  it('rejects a point of the wrong dimension', () => {
    assert.throws(() => negativeLogLikelihood(createDistribution([0, 0], [1, 0, 0, 1], 1), [1]), /y must hold 2/);
  });
});

describe('sampling agrees with κΛ⁻¹ and r_p', () => {
  const configurations = [
    { d: 2, delta: 1, raw: [0.4, -0.3, 2, 1.5, -1] },
    { d: 2, delta: 0.3, raw: [1, 2, -3, 0.5, 1] },
    { d: 3, delta: 4, raw: [0.1, 0.2, 0.3, 1, 0.5, -0.2, -1, 0.3, 2] },
  ];
  for (const { d, delta, raw } of configurations) {
    it(`d = ${d}, δ = ${delta}`, () => {
      const dist = decode(raw, 0, d, { delta, theta: 1, eigenvalueOffset: 3, parameterization: 'nu' });
      const inverseSqrt = invertGeneral(dist.sqrtPrecision, d);
      const sampler = new RadialSampler(d, delta);
      const rng = createRng(1000 + d * 10 + delta);
      const count = 100_000;
      const samples = sampler.sample(rng, count, dist.mean, inverseSqrt);
      assertCovarianceWithin(samples, d, dist.mean, dist.covariance, 5, `d=${d} δ=${delta}`);
      for (const p of [0.5, 0.95]) {
        const r = radialQuantile(d, delta, p);
        let inside = 0;
        for (let s = 0; s < count; s++) {
          let q = 0;
          for (let i = 0; i < d; i++) {
            for (let j = 0; j < d; j++)
              q += (samples[s * d + i]! - dist.mean[i]!) * dist.precision[i * d + j]! * (samples[s * d + j]! - dist.mean[j]!);
          }
          if (q <= r * r) inside++;
        }
        expect(inside / count, `fraction inside r_${p}`).toBeCloseToNested(p, { abs: 5 * Math.sqrt((p * (1 - p)) / count) });
      }
    });
  }
});

describe('pushForward and mirror', () => {
  it('pushing through M then M⁻¹ returns the distribution (d = 2, 3)', () => {
    const rng = createRng(77);
    for (const d of [2, 3]) {
      const dist = decode(
        Array.from({ length: d + (d * (d + 1)) / 2 }, () => rng.normal() * 3),
        0,
        d,
        {
          delta: 1.5,
          theta: 1,
          eigenvalueOffset: 4,
          parameterization: 'nu',
        },
      );
      const m = Float64Array.from({ length: d * d }, () => rng.normal());
      const t = Float64Array.from({ length: d }, () => rng.normal() * 50);
      const moved = pushForward(dist, m, t);
      const inverse = invertGeneral(m, d);
      const back = pushForward(
        moved,
        inverse,
        Float64Array.from({ length: d }, (_, i) => {
          let s = 0;
          for (let k = 0; k < d; k++) s -= inverse[i * d + k]! * t[k]!;
          return s;
        }),
      );
      expect(back.mean).toBeCloseToNested(dist.mean, { abs: 1e-9 });
      expect(back.precision).toBeCloseToNested(dist.precision, { rel: 1e-9, abs: 1e-9 * Math.max(...dist.precision) });
      expect(back.covariance).toBeCloseToNested(dist.covariance, { rel: 1e-9, abs: 1e-9 * Math.max(...dist.covariance) });
      const { kappa } = huberConstants(d, 1.5);
      const product = multiply(moved.covariance, moved.precision, d);
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) expect(product[i * d + j]).toBeCloseToNested(i === j ? kappa : 0, { abs: 1e-9 * kappa });
    }
  });

  it("sampling before and after the map agrees with Σ' = MΣMᵀ", () => {
    const dist = decode([1, 2, 0.5, -1, 2], 0, 2, { delta: 0.7, theta: 1, eigenvalueOffset: 2, parameterization: 'nu' });
    const m = [3, -1, 0.5, 2];
    const t = [100, -40];
    const moved = pushForward(dist, m, t);
    const samples = new RadialSampler(2, 0.7).sample(createRng(9), 100_000, dist.mean, invertGeneral(dist.sqrtPrecision, 2));
    const mapped = new Float64Array(samples.length);
    for (let s = 0; s < samples.length / 2; s++) {
      mapped[2 * s] = m[0]! * samples[2 * s]! + m[1]! * samples[2 * s + 1]! + t[0]!;
      mapped[2 * s + 1] = m[2]! * samples[2 * s]! + m[3]! * samples[2 * s + 1]! + t[1]!;
    }
    expect(moved.mean).toBeCloseToNested(
      [m[0]! * dist.mean[0]! + m[1]! * dist.mean[1]! + t[0]!, m[2]! * dist.mean[0]! + m[3]! * dist.mean[1]! + t[1]!],
      { abs: 1e-12 },
    );
    assertCovarianceWithin(mapped, 2, moved.mean, moved.covariance, 5, 'mapped samples');
    expect(moved.covariance).toBeCloseToNested(multiply(multiply(m, dist.covariance, 2), transpose(m, 2), 2), {
      rel: 1e-12,
      abs: 1e-15,
    });
  });

  it('mirror flips x about the crop, flips the correlation sign and is its own inverse', () => {
    const dist = createDistribution([30, 50], [2, 0.5, 0.5, 1], 1);
    const flipped = mirror(dist, 224);
    expect(flipped.mean).toBeCloseToNested([194, 50], { abs: 1e-12 });
    expect(flipped.precision).toBeCloseToNested([2, -0.5, -0.5, 1], { abs: 1e-15 });
    const back = mirror(flipped, 224);
    expect(back.mean).toBeCloseToNested(dist.mean, { abs: 1e-12 });
    expect(back.covariance).toBeCloseToNested(dist.covariance, { abs: 1e-15 });
  });

  it('rejects a singular map', () => {
    assert.throws(() => pushForward(createDistribution([0, 0], [1, 0, 0, 1], 1), [1, 2, 2, 4], [0, 0]), /M must be invertible/);
  });
});
