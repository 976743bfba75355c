import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import {
  cholesky,
  decode,
  decodePlanar,
  type DistributionParams,
  huberConstants,
  outputsPerKeypoint,
  REMAP_CEILING,
  REMAP_FLOOR,
  remapEigenvalue,
  symmetricEigen,
} from '../../src/huber/index.js';
import { multiply } from '../../src/huber/linalg.js';
import { createRng } from '../helpers/prng.js';

const NU: DistributionParams = { delta: 1, theta: 1, eigenvalueOffset: 25.5, parameterization: 'nu' };
const MU: DistributionParams = { ...NU, parameterization: 'mu' };

function randomRaw(seed: number, d: number, spread: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: outputsPerKeypoint(d) }, () => rng.normal() * spread);
}

function identity(d: number): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) m[i * d + i] = 1;
  return m;
}

describe('remapEigenvalue g', () => {
  it('is the identity at or above θ and continuous and C¹ at θ', () => {
    for (const theta of [0.1, 1, 4]) {
      assert.equal(remapEigenvalue(theta + 2, theta, 0), theta + 2);
      const h = 1e-6 * theta;
      expect(remapEigenvalue(theta - h, theta, 0)).toBeCloseToNested(theta, { abs: 2 * h });
      const left = (remapEigenvalue(theta, theta, 0) - remapEigenvalue(theta - h, theta, 0)) / h;
      const right = (remapEigenvalue(theta + h, theta, 0) - remapEigenvalue(theta, theta, 0)) / h;
      expect(left).toBeCloseToNested(1, { abs: 1e-5 });
      expect(right).toBeCloseToNested(1, { abs: 1e-5 });
    }
  });

  it('applies the offset before remapping and is positive and non-decreasing', () => {
    assert.equal(remapEigenvalue(0, 1, 25.5), 25.5);
    let previous = 0;
    for (let lambda = -2000; lambda <= 100; lambda += 0.5) {
      const g = remapEigenvalue(lambda, 1, 25.5);
      assert.ok(g > 0 && g >= previous, `g(${lambda}) = ${g}`);
      previous = g;
    }
  });

  it('floors the exp branch so that it never underflows to 0, and caps huge values', () => {
    expect(remapEigenvalue(-30, 1, 25.5)).toBeCloseToNested(Math.exp(-5.5), { rel: 1e-14 });
    assert.equal(remapEigenvalue(-1e6, 1, 25.5), REMAP_FLOOR);
    assert.equal(remapEigenvalue(-Number.MAX_VALUE, 1, 0), REMAP_FLOOR);
    assert.equal(remapEigenvalue(1e300, 1, 0), REMAP_CEILING);
  });
});

describe('decode', () => {
  it('builds B with the 1/√2 isometry and A sharing its eigenvectors (d = 1..4)', () => {
    for (let d = 1; d <= 4; d++) {
      for (let seed = 0; seed < 25; seed++) {
        const raw = randomRaw(100 * d + seed, d, 10);
        const dist = decode(raw, 0, d, NU);
        let rawNorm = 0;
        for (let i = d; i < raw.length; i++) rawNorm += raw[i]! * raw[i]!;
        // ‖B‖_F² = Σ λ², and the eigenvalues of A are g(λ + o) in the same order.
        const b = new Float64Array(d * d);
        let next = d;
        for (let i = 0; i < d; i++) {
          for (let j = i; j < d; j++) {
            b[i * d + j] = b[j * d + i] = i === j ? raw[next]! : raw[next]! / Math.SQRT2;
            next++;
          }
        }
        const { values } = symmetricEigen(b, d);
        expect(
          values.reduce((s, v) => s + v * v, 0),
          'isometry',
        ).toBeCloseToNested(rawNorm, { rel: 1e-12 });
        const expected = Array.from(values, (v) => remapEigenvalue(v, NU.theta, NU.eigenvalueOffset));
        expect(symmetricEigen(dist.sqrtPrecision, d).values, 'spectrum of A').toBeCloseToNested(expected, {
          abs: 1e-13 * Math.max(...expected),
        });
        expect(multiply(dist.sqrtPrecision, b, d), 'A·B = B·A').toBeCloseToNested(multiply(b, dist.sqrtPrecision, d), {
          abs: 1e-9,
        });
      }
    }
  });

  it('gives A symmetric positive definite, Λ = A², Σ·Λ = κI and μ = A⁻¹ν (ν) or ν (μ)', () => {
    for (let d = 1; d <= 4; d++) {
      const { kappa } = huberConstants(d, NU.delta);
      for (let seed = 0; seed < 25; seed++) {
        // Spread 6 keeps cond(Λ) moderate, so the products below are accurate to rounding.
        const raw = randomRaw(1000 * d + seed, d, 6);
        const dist = decode(raw, 0, d, NU);
        for (let i = 0; i < d; i++)
          for (let j = 0; j < d; j++) assert.equal(dist.sqrtPrecision[i * d + j], dist.sqrtPrecision[j * d + i]);
        cholesky(dist.sqrtPrecision, d, 'A');
        expect(multiply(dist.sqrtPrecision, dist.sqrtPrecision, d)).toBeCloseToNested(dist.precision, { rel: 1e-12, abs: 1e-10 });
        const product = multiply(dist.covariance, dist.precision, d);
        const scaledIdentity = identity(d).map((v) => v * kappa);
        expect(product).toBeCloseToNested(scaledIdentity, { abs: 1e-10 * kappa });
        for (let i = 0; i < d; i++) {
          let aMu = 0;
          for (let k = 0; k < d; k++) aMu += dist.sqrtPrecision[i * d + k]! * dist.mean[k]!;
          expect(aMu, 'A·μ = ν').toBeCloseToNested(raw[i]!, { abs: 1e-10 * (1 + Math.abs(raw[i]!)) });
        }
        expect(decode(raw, 0, d, MU).mean, 'μ-parameterization').toBeCloseToNested(raw.subarray(0, d), { rel: 0 });
      }
    }
  });

  it('closed-form d = 2 equals the general solver, including repeated eigenvalues', () => {
    const rng = createRng(5);
    const cases: number[][] = [
      [0.3, -0.2, 4, 0, 4],
      [1, 2, 0, 0, 0],
      [1, 2, -30, 1e-13, -30],
      [5, 5, 1e9, -3e9, 2e9],
    ];
    for (let i = 0; i < 300; i++)
      cases.push([rng.normal() * 5, rng.normal() * 5, rng.normal() * 30, rng.normal() * 30, rng.normal() * 30]);
    for (const raw of cases) {
      for (const params of [NU, MU, { ...NU, delta: 0.3, theta: 2.5, eigenvalueOffset: 3 }]) {
        const general = decode(raw, 0, 2, params);
        const fast = decodePlanar(raw, 0, params);
        for (const key of ['mean', 'sqrtPrecision', 'precision', 'covariance'] as const) {
          const scale = Math.max(...Array.from(general[key], Math.abs));
          expect(fast[key], `${key} of ${raw}`).toBeCloseToNested(general[key], { abs: 1e-11 * scale });
        }
      }
    }
  });

  it('keeps A invertible and Σ finite for hugely negative and huge raw outputs', () => {
    for (const value of [-1e3, -1e6, -1e30, -3.4e38, -1e300]) {
      for (const d of [1, 2, 3, 4]) {
        // B = value·I: every eigenvalue of A is floored, and B = diag(value, 0, …): only one is.
        for (const floored of [d, 1]) {
          const raw = new Float64Array(outputsPerKeypoint(d));
          raw[0] = 1;
          let next = d;
          for (let i = 0; i < d; i++) {
            for (let j = i; j < d; j++) raw[next++] = i === j && i < floored ? value : 0;
          }
          const dist = decode(raw, 0, d, NU);
          for (const key of ['mean', 'sqrtPrecision', 'precision', 'covariance'] as const) {
            for (const v of dist[key]) assert.ok(Number.isFinite(v), `${key} finite for raw ${value}, d = ${d}`);
          }
          for (const g of dist.remappedEigenvalues) assert.ok(g >= REMAP_FLOOR && g <= REMAP_CEILING);
          for (let i = 0; i < d; i++) {
            assert.ok(dist.sqrtPrecision[i * d + i]! > 0 && dist.precision[i * d + i]! > 0 && dist.covariance[i * d + i]! > 0);
          }
          if (floored === d) {
            cholesky(dist.sqrtPrecision, d, 'A');
            cholesky(dist.precision, d, 'Λ');
            cholesky(dist.covariance, d, 'Σ');
          }
        }
      }
      const fast = decodePlanar([1, 1, value, 0, value], 0, NU);
      for (const v of [...fast.mean, ...fast.precision, ...fast.covariance]) assert.ok(Number.isFinite(v));
      assert.ok(fast.precision[0]! > 0 && fast.covariance[0]! > 0);
      assert.ok(fast.precision[0]! * fast.precision[3]! - fast.precision[1]! ** 2 > 0, 'det Λ stays a positive double');
    }
    const huge = decodePlanar([1, 1, 1e300, 1e300, 1e300], 0, NU);
    for (const v of [...huge.mean, ...huge.precision, ...huge.covariance]) assert.ok(Number.isFinite(v));
    cholesky(huge.covariance, 2, 'Σ');
  });

  it('rejects non-finite raw values, naming the index, and bad parameters', () => {
    assert.throws(() => decodePlanar([0, 0, 1, Number.NaN, 1], 0, NU), /index 3.*NaN/);
    assert.throws(() => decode([0, 0, 0, 1, Infinity, 1], 1, 2, NU), /index 4/);
    assert.throws(() => decodePlanar([0, 0, 1, 0], 0, NU), /does not fit/);
    assert.throws(() => decodePlanar([0, 0, 1, 0, 1], 0, { ...NU, theta: 0 }), /theta/);
    assert.throws(() => decodePlanar([0, 0, 1, 0, 1], 0, { ...NU, parameterization: 'x' as 'nu' }), TypeError);
    assert.throws(() => decode([0], 0, 5, NU), /dimension/);
  });
});
