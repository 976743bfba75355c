import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import {
  decodePlanar,
  type DistributionParams,
  ellipse,
  fuseMean,
  fuseMl,
  type KeypointNormalization,
  mixtureCovariance,
  fuseKeypointViews,
  pushForward,
  type PlanarView,
} from '../../src/huber/index.js';
import { createRng } from '../helpers/prng.js';

const PARAMS: DistributionParams = { delta: 1, theta: 1, eigenvalueOffset: 25.5, parameterization: 'nu' };
const SIZE = 224;
const IDENTITY_NORMALIZATION: KeypointNormalization = {
  mean: [0, 0],
  whitening: [
    [1, 0],
    [0, 1],
  ],
};

function randomRaw(seed: number, count: number, offset = 0): Float32Array {
  const rng = createRng(seed);
  const raw = new Float32Array(offset + 5 * count);
  for (let i = 0; i < 5 * count; i++) raw[offset + i] = rng.normal() * (i % 5 < 2 ? 3 : 10);
  return raw;
}

function flat(m: [[number, number], [number, number]]): number[] {
  return [m[0][0], m[0][1], m[1][0], m[1][1]];
}

describe('fuseKeypointViews', () => {
  it("with one view returns that view's own distribution, no fusion", () => {
    const raw = randomRaw(1, 3);
    const affine = { m: [2, 0.1, -0.1, 2] as const, t: [10, 20] as const };
    const { keypoints, views } = fuseKeypointViews(
      [{ raw, offset: 0, inputToImage: affine, slotToKeypoint: null }],
      [IDENTITY_NORMALIZATION, IDENTITY_NORMALIZATION, IDENTITY_NORMALIZATION],
      PARAMS,
      { fusion: 'ml', level: 0.95, includeViews: false },
    );
    assert.equal(views, undefined);
    for (let k = 0; k < 3; k++) {
      const expected = pushForward(decodePlanar(raw, 5 * k, PARAMS), affine.m, affine.t);
      const kp = keypoints[k];
      assert.deepEqual([kp!.iterations, kp!.converged], [0, true]);
      expect([kp!.x, kp!.y]).toBeCloseToNested(expected.mean, { abs: 1e-9 });
      expect(flat(kp!.covariance)).toBeCloseToNested(expected.covariance, { rel: 1e-12 });
      expect(kp!.rmse).toBeCloseToNested(Math.sqrt(expected.covariance[0]! + expected.covariance[3]!), { rel: 1e-12 });
      const e = ellipse(expected.covariance, 1, 0.95);
      expect([kp!.ellipse.semiMajor, kp!.ellipse.semiMinor, kp!.ellipse.angle]).toBeCloseToNested(
        [e.semiMajor, e.semiMinor, e.angle],
        {
          rel: 1e-9,
          abs: 1e-9,
        },
      );
    }
  });

  it('equals the composition of decode, de-normalization, affine maps, permutation, fusion and mixture', () => {
    const count = 4;
    const rng = createRng(2);
    const normalization: KeypointNormalization[] = Array.from({ length: count }, () => ({
      mean: [100 + rng.normal() * 20, 120 + rng.normal() * 20] as const,
      whitening: [
        [0.05 + 0.01 * rng.uniform(), 0.004],
        [0.004, 0.04 + 0.01 * rng.uniform()],
      ] as const,
    }));
    const offset = 7;
    const raw = randomRaw(3, 2 * count, offset);
    const s = 1.7;
    const base = { m: [s, 0, 0, s] as const, t: [30, 40] as const };
    const mirrored = { m: [-s, 0, 0, s] as const, t: [30 + s * SIZE, 40] as const };
    const flip = [1, 0, 3, 2];
    const viewInputs: PlanarView[] = [
      { raw, offset, inputToImage: base, slotToKeypoint: null },
      { raw, offset: offset + 5 * count, inputToImage: mirrored, slotToKeypoint: flip },
    ];
    for (const fusion of ['ml', 'mean'] as const) {
      const result = fuseKeypointViews(viewInputs, normalization, PARAMS, {
        fusion,
        level: 0.5,
        includeViews: true,
        tolerance: 1e-12,
        maxIterations: 100_000,
      });
      const perView = viewInputs.map((view) => {
        const out = new Array(count);
        for (let k = 0; k < count; k++) {
          const h = normalization[k]!.whitening;
          const det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
          const hInv = [h[1][1] / det, -h[0][1] / det, -h[1][0] / det, h[0][0] / det];
          const normalized = decodePlanar(view.raw, view.offset + 5 * k, PARAMS);
          const input = pushForward(normalized, hInv, normalization[k]!.mean);
          const target = view.slotToKeypoint === null ? k : view.slotToKeypoint[k];
          out[target!] = pushForward(input, view.inputToImage.m, view.inputToImage.t);
        }
        return out;
      });
      for (let k = 0; k < count; k++) {
        const dists = [perView[0]![k], perView[1]![k]];
        const point = fusion === 'ml' ? fuseMl(dists, { tolerance: 1e-12, maxIterations: 100_000 }).point : fuseMean(dists);
        const kp = result.keypoints[k];
        expect([kp!.x, kp!.y], `${fusion} keypoint ${k}`).toBeCloseToNested(point, { abs: 1e-6 });
        expect(flat(kp!.covariance)).toBeCloseToNested(mixtureCovariance(dists, point), { rel: 1e-7, abs: 1e-9 });
        assert.ok(kp!.converged, `${fusion} keypoint ${k} after ${kp!.iterations} iterations`);
        if (fusion === 'mean') assert.equal(kp!.iterations, 0);
        for (let v = 0; v < 2; v++) {
          const vk = result.views![v]![k];
          expect([vk!.x, vk!.y]).toBeCloseToNested(perView[v]![k].mean, { abs: 1e-9 });
          expect(flat(vk!.covariance)).toBeCloseToNested(perView[v]![k].covariance, { rel: 1e-9, abs: 1e-12 });
        }
      }
    }
  });

  it("un-mirrors an exactly mirrored view: the fused keypoint keeps the view's mean and width", () => {
    const count = 3;
    const raw = randomRaw(4, count);
    // With identity normalization and the μ-parameterization, the mirror image of a prediction in input
    // pixels is q' = (S − q_x, q_y) with b₁₂ negated; slot k of the mirrored view holds keypoint flip(k).
    const flip = [2, 1, 0];
    const params: DistributionParams = { ...PARAMS, parameterization: 'mu' };
    const mirroredRaw = new Float32Array(5 * count);
    for (let k = 0; k < count; k++) {
      const source = flip[k];
      mirroredRaw.set(
        [SIZE - raw[5 * source!]!, raw[5 * source! + 1]!, raw[5 * source! + 2]!, -raw[5 * source! + 3]!, raw[5 * source! + 4]!],
        5 * k,
      );
    }
    const normalization = Array.from({ length: count }, () => IDENTITY_NORMALIZATION);
    const views: PlanarView[] = [
      { raw, offset: 0, inputToImage: { m: [1, 0, 0, 1], t: [0, 0] }, slotToKeypoint: null },
      { raw: mirroredRaw, offset: 0, inputToImage: { m: [-1, 0, 0, 1], t: [SIZE, 0] }, slotToKeypoint: flip },
    ];
    const fused = fuseKeypointViews(views, normalization, params, { fusion: 'ml', level: 0.95, includeViews: false });
    const single = fuseKeypointViews([views[0]!], normalization, params, { fusion: 'ml', level: 0.95, includeViews: false });
    for (let k = 0; k < count; k++) {
      expect([fused.keypoints[k]!.x, fused.keypoints[k]!.y]).toBeCloseToNested([single.keypoints[k]!.x, single.keypoints[k]!.y], {
        abs: 1e-4,
      });
      expect(flat(fused.keypoints[k]!.covariance)).toBeCloseToNested(flat(single.keypoints[k]!.covariance), { rel: 1e-5 });
      assert.ok(fused.keypoints[k]!.converged && fused.keypoints[k]!.iterations >= 1);
    }
  });

  it('stays finite for hugely negative raw outputs', () => {
    const raw = new Float32Array([1, 2, -3e38, 0, -3e38, 0, 0, -1e6, 5, 3]);
    const result = fuseKeypointViews(
      [
        { raw, offset: 0, inputToImage: { m: [1, 0, 0, 1], t: [0, 0] }, slotToKeypoint: null },
        { raw, offset: 0, inputToImage: { m: [-1, 0, 0, 1], t: [SIZE, 0] }, slotToKeypoint: [1, 0] },
      ],
      [IDENTITY_NORMALIZATION, IDENTITY_NORMALIZATION],
      PARAMS,
      { fusion: 'ml', level: 0.95, includeViews: true },
    );
    for (const kp of [...result.keypoints, ...result.views!.flat()]) {
      for (const v of [
        kp.x,
        kp.y,
        ...flat(kp.covariance),
        kp.rmse,
        kp.ellipse.semiMajor,
        kp.ellipse.semiMinor,
        kp.ellipse.angle,
      ]) {
        assert.ok(Number.isFinite(v), JSON.stringify(kp));
      }
    }
  });

  it('rejects malformed input with messages naming the value', () => {
    const raw = randomRaw(5, 2);
    const view: PlanarView = { raw, offset: 0, inputToImage: { m: [1, 0, 0, 1], t: [0, 0] }, slotToKeypoint: null };
    const norm = [IDENTITY_NORMALIZATION, IDENTITY_NORMALIZATION];
    const options = { fusion: 'ml' as const, level: 0.95, includeViews: false };
    assert.throws(() => fuseKeypointViews([], norm, PARAMS, options), /non-empty/);
    assert.throws(() => fuseKeypointViews([{ ...view, offset: 1 }], norm, PARAMS, options), /offset 1/);
    assert.throws(() => fuseKeypointViews([{ ...view, slotToKeypoint: [0, 0] }], norm, PARAMS, options), /entry 1 is 0/);
    assert.throws(
      () => fuseKeypointViews([{ ...view, inputToImage: { m: [1, 2, 2, 4], t: [0, 0] } }], norm, PARAMS, options),
      /invertible/,
    );
    assert.throws(() => fuseKeypointViews([view], norm, PARAMS, { ...options, level: 1 }), /options.level/);
    assert.throws(() => fuseKeypointViews([view], norm, PARAMS, { ...options, fusion: 'max' as 'ml' }), /fusion/);
    assert.throws(
      () =>
        fuseKeypointViews(
          [view],
          [
            norm[0]!,
            {
              mean: [0, 0],
              whitening: [
                [1, 1],
                [1, 1],
              ],
            },
          ],
          PARAMS,
          options,
        ),
      /normalization\[1\]/,
    );
    const bad = Float32Array.from(raw);
    bad[7] = Number.NaN;
    assert.throws(() => fuseKeypointViews([{ ...view, raw: bad }], norm, PARAMS, options), /index 7.*NaN/);
  });
});
