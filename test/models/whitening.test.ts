import { describe, expect, test } from 'vitest';
import { decodePlanar, fuseKeypointViews, type DistributionParams } from '../../src/huber/index.js';
import { ManifestError, parseManifest } from '../../src/models/manifest.js';
import { createRng } from '../helpers/prng.js';

const PARAMS: DistributionParams = { delta: 1, theta: 1, eigenvalueOffset: 25.5, parameterization: 'nu' };

type Matrix = [[number, number], [number, number]];

function manifestWith(whitening: unknown) {
  return {
    name: 'm',
    version: '1',
    trained: false,
    file: 'model.onnx',
    input: { name: 'input', size: 64, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    output: { name: 'output' },
    crop: { scale: 1, padding: 'reflect' },
    distribution: { delta: 1, theta: 1, eigenvalueOffset: 25.5, parameterization: 'nu' },
    keypoints: [{ name: 'k', mean: [32, 32], whitening }],
  };
}

// Plain 2×2 arithmetic written out here, independent of the core's unrolled congruences.
const mul = (a: Matrix, b: Matrix): Matrix => [
  [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]],
  [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]],
];
const transpose = (a: Matrix): Matrix => [
  [a[0][0], a[1][0]],
  [a[0][1], a[1][1]],
];
const inverse = (a: Matrix): Matrix => {
  const det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
  return [
    [a[1][1] / det, -a[0][1] / det],
    [-a[1][0] / det, a[0][0] / det],
  ];
};
const apply = (a: Matrix, v: [number, number]): [number, number] => [
  a[0][0] * v[0] + a[0][1] * v[1],
  a[1][0] * v[0] + a[1][1] * v[1],
];

describe('a whitening H may be any invertible 2×2 matrix (docs/spec.md §3)', () => {
  const accepted: Array<[string, Matrix]> = [
    ['symmetric only to rounding, like the reference WFLW constants', [[0.0553, 0.005093628370240785], [0.005093628370240811, 0.0552]]],
    ['a Cholesky-style lower-triangular factor', [[0.05, 0], [0.012, 0.04]]],
    ['a general matrix with a rotation in it', [[0.03, -0.02], [0.025, 0.045]]],
  ];
  for (const [what, whitening] of accepted) {
    test(`accepted: ${what}`, () => {
      expect(parseManifest(manifestWith(whitening), 'test').keypoints[0]!.whitening).toEqual(whitening);
    });
  }

  const refused: Array<[string, unknown, RegExp]> = [
    ['singular', [[1, 2], [2, 4]], /whitening is singular/],
    ['zero', [[0, 0], [0, 0]], /whitening is singular/],
    ['nearly singular for its scale', [[1e6, 1e6], [1e6, 1e6 + 1e-9]], /whitening is singular/],
  ];
  for (const [what, whitening, message] of refused) {
    test(`refused: ${what}`, () => {
      expect(() => parseManifest(manifestWith(whitening), 'test')).toThrow(ManifestError);
      expect(() => parseManifest(manifestWith(whitening), 'test')).toThrow(message);
    });
  }

  test('a non-symmetric H maps predictions back as q = H⁻¹ yₙ + m, Σ_q = H⁻¹ Σₙ H⁻ᵀ, then into the image', () => {
    const rng = createRng(31);
    for (let trial = 0; trial < 20; trial++) {
      const h: Matrix = [
        [rng.range(0.02, 0.08), rng.range(-0.03, 0.03)],
        [rng.range(-0.03, 0.03), rng.range(0.02, 0.08)],
      ];
      const mean: [number, number] = [rng.range(20, 200), rng.range(20, 200)];
      const m: Matrix = [
        [rng.range(0.5, 3), rng.range(-0.3, 0.3)],
        [rng.range(-0.3, 0.3), rng.range(0.5, 3)],
      ];
      const t: [number, number] = [rng.range(-50, 50), rng.range(-50, 50)];
      const raw = Float32Array.from({ length: 5 }, (_, i) => rng.normal() * (i < 2 ? 2 : 8));
      const { keypoints } = fuseKeypointViews(
        [{ raw, offset: 0, inputToImage: { m: [m[0][0], m[0][1], m[1][0], m[1][1]], t }, slotToKeypoint: null }],
        [{ mean, whitening: h }],
        PARAMS,
        { fusion: 'ml', level: 0.9, includeViews: false },
      );
      const normalized = decodePlanar(raw, 0, PARAMS);
      const hInverse = inverse(h);
      const q = apply(hInverse, [normalized.mean[0]!, normalized.mean[1]!]);
      const inInput: [number, number] = [q[0] + mean[0], q[1] + mean[1]];
      const inImage = apply(m, inInput);
      const sigmaN: Matrix = [
        [normalized.covariance[0]!, normalized.covariance[1]!],
        [normalized.covariance[2]!, normalized.covariance[3]!],
      ];
      const sigmaQ = mul(mul(hInverse, sigmaN), transpose(hInverse));
      const sigmaImage = mul(mul(m, sigmaQ), transpose(m));
      const keypoint = keypoints[0]!;
      expect([keypoint.x, keypoint.y]).toBeCloseToNested([inImage[0] + t[0], inImage[1] + t[1]], { rel: 1e-9, abs: 1e-9 });
      expect(keypoint.covariance).toBeCloseToNested(sigmaImage, { rel: 1e-9 });
    }
  });
});
