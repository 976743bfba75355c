import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import { decodePlanar, ellipse, huberConstants, radialQuantile, rmse } from '../../src/huber/index.js';
import { invertGeneral } from '../../src/huber/linalg.js';
import { RadialSampler } from '../helpers/huber-reference.js';
import { createRng } from '../helpers/prng.js';

function rotated(degrees: number, major: number, minor: number): number[] {
  const a = (degrees * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [major * c * c + minor * s * s, (major - minor) * c * s, (major - minor) * c * s, major * s * s + minor * c * c];
}

describe('ellipse', () => {
  it('has semi-axes r_p·√(eig Σ / κ) and the major-axis angle in degrees from +x toward +y', () => {
    const { kappa } = huberConstants(2, 1);
    const r = radialQuantile(2, 1, 0.95);
    for (const angle of [0, 30, -30, 60, 89, -89.5]) {
      const e = ellipse(rotated(angle, 9 * kappa, kappa), 1, 0.95);
      expect(e.semiMajor).toBeCloseToNested(3 * r, { rel: 1e-12 });
      expect(e.semiMinor).toBeCloseToNested(r, { rel: 1e-12 });
      expect(e.angle).toBeCloseToNested(angle, { abs: 1e-9 });
      assert.equal(e.level, 0.95);
    }
    expect(ellipse(rotated(90, 4, 1), 1, 0.5).angle).toBeCloseToNested(90, { abs: 1e-9 });
    assert.equal(ellipse([2, 0, 0, 2], 1, 0.5).angle, 0);
  });

  it('puts the ends of its axes on ‖A(y − μ)‖ = r_level, with Λ = κΣ⁻¹', () => {
    const sigma = [5, 1.5, 1.5, 2];
    const { kappa } = huberConstants(2, 0.5);
    const inv = invertGeneral(sigma, 2).map((v) => v * kappa);
    const e = ellipse(sigma, 0.5, 0.8);
    const r = radialQuantile(2, 0.5, 0.8);
    const a = (e.angle * Math.PI) / 180;
    for (const [len, dir] of [
      [e.semiMajor, a],
      [e.semiMinor, a + Math.PI / 2],
    ] as const) {
      const x = len * Math.cos(dir);
      const y = len * Math.sin(dir);
      expect(Math.sqrt(x * x * inv[0]! + 2 * x * y * inv[1]! + y * y * inv[3]!)).toBeCloseToNested(r, { rel: 1e-12 });
    }
  });

  it('holds the requested fraction of samples (Monte Carlo)', () => {
    const dist = decodePlanar([0.5, 0.5, 1, -2, 0.5], 0, { delta: 1, theta: 1, eigenvalueOffset: 3, parameterization: 'nu' });
    const e = ellipse(dist.covariance, 1, 0.9);
    const count = 100_000;
    const samples = new RadialSampler(2, 1).sample(createRng(41), count, dist.mean, invertGeneral(dist.sqrtPrecision, 2));
    const a = (e.angle * Math.PI) / 180;
    let inside = 0;
    let squared = 0;
    for (let s = 0; s < count; s++) {
      const dx = samples[2 * s]! - dist.mean[0]!;
      const dy = samples[2 * s + 1]! - dist.mean[1]!;
      squared += dx * dx + dy * dy;
      const u = dx * Math.cos(a) + dy * Math.sin(a);
      const v = -dx * Math.sin(a) + dy * Math.cos(a);
      if ((u / e.semiMajor) ** 2 + (v / e.semiMinor) ** 2 <= 1) inside++;
    }
    expect(inside / count).toBeCloseToNested(0.9, { abs: 5 * Math.sqrt((0.9 * 0.1) / count) });
    expect(rmse(dist.covariance), 'rmse = √E‖y − μ‖²').toBeCloseToNested(Math.sqrt(squared / count), { rel: 0.02 });
  });

  it('rejects bad inputs', () => {
    assert.throws(() => ellipse([1, 0, 0], 1, 0.5), /4 numbers/);
    assert.throws(() => ellipse([1, 0, 0, 1], 1, 1), /level/);
    assert.throws(() => rmse([1, 0, 0]), /square/);
  });
});
