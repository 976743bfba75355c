import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import {
  cachedRadialQuantile,
  huberConstants,
  huberLoss,
  kappa,
  logNormalizer,
  radialCdf,
  radialQuantile,
  radialSurvival,
} from '../../src/huber/index.js';
import { radialMoment } from '../../src/huber/radial.js';
import { integrate, simpson } from '../helpers/integrate.js';
import {
  referenceKappa,
  referenceLoss,
  referenceMoment,
  referenceNormalizer,
  referenceRadialIntegral,
} from '../helpers/huber-reference.js';

const DIMENSIONS = [1, 2, 3, 4];
const DELTAS = [0.05, 0.2, 0.5, 1, 2, 5, 10];

describe('huberLoss', () => {
  it('is continuous with a continuous slope at δ and linear beyond', () => {
    for (const delta of [0.05, 1, 10]) {
      const eps = 1e-7 * delta;
      expect(huberLoss(delta, delta)).toBeCloseToNested(0.5 * delta * delta, { rel: 1e-15 });
      expect(huberLoss(delta + eps, delta) - huberLoss(delta - eps, delta)).toBeCloseToNested(2 * delta * eps, { rel: 1e-6 });
      const slopeIn = (huberLoss(delta, delta) - huberLoss(delta - eps, delta)) / eps;
      const slopeOut = (huberLoss(delta + eps, delta) - huberLoss(delta, delta)) / eps;
      expect(slopeIn).toBeCloseToNested(delta, { rel: 1e-5 });
      expect(slopeOut).toBeCloseToNested(delta, { rel: 1e-5 });
      expect(huberLoss(3 * delta, delta) - huberLoss(2 * delta, delta)).toBeCloseToNested(delta * delta, { rel: 1e-12 });
    }
  });
});

describe('normalizing constant and κ', () => {
  it('match the check values of SPEC §1', () => {
    expect(Math.exp(logNormalizer(2, 1))).toBeCloseToNested(10.09413, { abs: 1e-6 });
    expect(kappa(2, 1)).toBeCloseToNested(3.076474, { abs: 1e-6 });
  });

  it('match numerical integration of the radial density for d = 1..4 and δ from 0.05 to 10', () => {
    for (const d of DIMENSIONS) {
      for (const delta of DELTAS) {
        expect(logNormalizer(d, delta), `log c_${d}(${delta})`).toBeCloseToNested(Math.log(referenceNormalizer(d, delta)), {
          abs: 1e-10,
        });
        expect(kappa(d, delta), `κ_${d}(${delta})`).toBeCloseToNested(referenceKappa(d, delta), { rel: 1e-10 });
      }
    }
  });

  it('agree with a structurally different integrator (adaptive Simpson) at d = 3, δ = 0.7', () => {
    const f = (r: number): number => r * r * Math.exp(-referenceLoss(r, 0.7));
    const c = 4 * Math.PI * (simpson(f, 0, 0.7, 1e-13) + simpson(f, 0.7, 250, 1e-13));
    expect(Math.exp(logNormalizer(3, 0.7))).toBeCloseToNested(c, { rel: 1e-9 });
  });

  it('tend to the Gaussian values for large δ and stay finite for tiny δ', () => {
    for (const d of DIMENSIONS) {
      expect(kappa(d, 10)).toBeCloseToNested(1, { rel: 1e-12 });
      expect(logNormalizer(d, 10)).toBeCloseToNested((d / 2) * Math.log(2 * Math.PI), { abs: 1e-12 });
      expect(kappa(d, 1e-3) * 1e-6, 'δ → 0: κ·δ² approaches the L2-Laplace value d + 1').toBeCloseToNested(d + 1, { rel: 1e-2 });
      assert.ok(Number.isFinite(logNormalizer(d, 1e-3)));
      assert.ok(Number.isFinite(logNormalizer(d, 200)));
    }
  });

  it('show why SPEC §8 corrects the paper: its b(n) recursion without 1/δ is wrong away from δ = 1', () => {
    const bReference = (n: number, delta: number): number =>
      integrate((r) => Math.pow(r, n) * Math.exp(-delta * r), delta, delta + 400 / delta, 1e-14);
    const paperB = (n: number, delta: number): number =>
      n === 0 ? Math.exp(-delta * delta) / delta : Math.pow(delta, n - 1) * Math.exp(-delta * delta) + n * paperB(n - 1, delta);
    expect(paperB(3, 1)).toBeCloseToNested(bReference(3, 1), { rel: 1e-10 });
    expect(paperB(3, 2)).not.toBeCloseToNested(bReference(3, 2), { rel: 0.1 });
    // Ours carries the corrected recursion: κ and c match direct integration at δ = 2 (tested above too).
    expect(kappa(2, 2)).toBeCloseToNested(referenceKappa(2, 2), { rel: 1e-10 });
  });

  it('caches per (d, δ) and returns the same numbers', () => {
    const first = huberConstants(3, 0.8);
    assert.equal(huberConstants(3, 0.8), first);
    expect(first.kappa).toBeCloseToNested(kappa(3, 0.8), { rel: 1e-15 });
    expect(cachedRadialQuantile(3, 0.8, 0.9)).toBeCloseToNested(radialQuantile(3, 0.8, 0.9), { rel: 1e-15 });
  });

  it('κ and r_p are memoized per (d, δ): the same number on every call, also past the cache bound of 256 entries', () => {
    const direct = (d: number, delta: number) => radialMoment(d + 1, delta) / (d * radialMoment(d - 1, delta));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) {
        const delta = 0.05 + i * 0.033;
        for (const d of [1, 2, 3, 4]) {
          assert.equal(kappa(d, delta), direct(d, delta));
          assert.equal(huberConstants(d, delta).kappa, direct(d, delta));
        }
        assert.equal(cachedRadialQuantile(2, delta, 0.9), radialQuantile(2, delta, 0.9));
      }
    }
    expect(huberConstants(2, 1).kappa).toBeCloseToNested(referenceKappa(2, 1), { rel: 1e-10 });
  });

  it('rejects dimensions outside 1..4 and non-positive δ', () => {
    for (const d of [0, 5, 1.5, Number.NaN]) assert.throws(() => kappa(d, 1), RangeError);
    for (const delta of [0, -1, Number.NaN, Infinity]) assert.throws(() => logNormalizer(2, delta), /delta/);
  });
});

describe('radial mass F_d and its inverse', () => {
  it('has the check quantiles of SPEC §1 (d = 2, δ = 1)', () => {
    expect(radialQuantile(2, 1, 0.5)).toBeCloseToNested(1.719529, { abs: 1e-6 });
    expect(radialQuantile(2, 1, 0.95)).toBeCloseToNested(4.775234, { abs: 1e-6 });
  });

  it('matches numerical integration inside and outside δ', () => {
    for (const d of DIMENSIONS) {
      for (const delta of [0.05, 1, 3, 10]) {
        const total = referenceMoment(d - 1, delta);
        for (const r of [0.3 * delta, delta, 1.5 * delta, delta + 2, delta + 10 / delta]) {
          const expected = referenceRadialIntegral(d - 1, delta, 0, r) / total;
          expect(radialCdf(d, delta, r), `F_${d}(${r}; δ=${delta})`).toBeCloseToNested(expected, { abs: 1e-11 });
        }
      }
    }
  });

  it('inverts F_d to 1e-12 across probabilities from 1e-9 to 1 − 1e-9', () => {
    for (const d of DIMENSIONS) {
      for (const delta of DELTAS) {
        for (const p of [1e-9, 1e-3, 0.1, 0.5, 0.9, 0.95, 0.999]) {
          const r = radialQuantile(d, delta, p);
          expect(radialCdf(d, delta, r), `F(F⁻¹(${p})) d=${d} δ=${delta}`).toBeCloseToNested(p, { rel: 1e-10, abs: 1e-14 });
        }
        const tail = radialQuantile(d, delta, 1 - 1e-9);
        expect(radialSurvival(d, delta, tail), `tail d=${d} δ=${delta}`).toBeCloseToNested(1e-9, { rel: 1e-6 });
      }
    }
  });

  it('is increasing and stays finite for huge radii', () => {
    for (const d of DIMENSIONS) {
      for (const delta of [0.05, 1, 10]) {
        let previous = 0;
        for (const r of [0, 1e-8, 0.01, 0.1, 1, 5, 20, 100, 1e4, 1e8, 1e300, Infinity]) {
          const f = radialCdf(d, delta, r);
          assert.ok(Number.isFinite(f) && f >= previous - 1e-15 && f <= 1, `F_${d}(${r}) = ${f}`);
          previous = f;
          const s = radialSurvival(d, delta, r);
          assert.ok(Number.isFinite(s) && s >= 0 && s <= 1, `1 − F_${d}(${r}) = ${s}`);
        }
        assert.equal(radialCdf(d, delta, 1e300), 1);
      }
    }
  });

  it('rejects probabilities outside (0, 1) and negative radii', () => {
    for (const p of [0, 1, -0.1, 1.5, Number.NaN]) assert.throws(() => radialQuantile(2, 1, p), /probability/);
    assert.throws(() => radialCdf(2, 1, -1), /radius/);
  });
});
