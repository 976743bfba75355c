import { describe, expect, test } from 'vitest';
import { parseManifest } from '../../../src/models/manifest.js';
import { outputDeviation } from '../../../tools/variants/deviation.js';
import { DOTS_NU_NORMALIZATION, dotsManifest } from '../../helpers/fixture-models.js';
import { createRng } from '../../helpers/prng.js';
import { referenceDeviation, type ReferenceDeviation } from './reference-deviation.js';

const CROPS = 12;

const numbers = (d: ReferenceDeviation) => [d.maxPositionPx, d.meanPositionPx, d.maxRmseRelative, d.meanNllDelta];

/** Parent outputs spread like a network's, and a variant that perturbs them by `noise`. */
function outputPair(seed: number, keypoints: number, noise: number) {
  const rng = createRng(seed);
  const parent = new Float32Array(CROPS * keypoints * 5);
  for (let i = 0; i < parent.length; i += 5) {
    parent[i] = rng.range(-3, 3);
    parent[i + 1] = rng.range(-3, 3);
    // Eigenvalues of B around −25.5 ± 3 put g(u) on both branches of the remap (θ = 1).
    parent[i + 2] = rng.range(-28, -22);
    parent[i + 3] = rng.range(-2, 2);
    parent[i + 4] = rng.range(-28, -22);
  }
  const variant = Float32Array.from(parent, (value) => value + noise * rng.normal());
  return { parent, variant };
}

describe('outputDeviation', () => {
  for (const parameterization of ['nu', 'mu'] as const) {
    test(`matches an independent decode of both outputs (${parameterization}, per-keypoint H and m)`, () => {
      const manifest = parseManifest(dotsManifest('m', parameterization, DOTS_NU_NORMALIZATION), 'test');
      const { parent, variant } = outputPair(parameterization === 'nu' ? 3 : 4, 2, 0.05);
      const measured = outputDeviation(manifest, parent, variant, CROPS);
      const expected = referenceDeviation(manifest, parent, variant, CROPS);
      expect(numbers(measured)).toBeCloseToNested(numbers(expected), { rel: 1e-9, abs: 1e-12 });
      expect(measured.maxPositionPx).toBeGreaterThan(0.01);
    });
  }

  test('identical outputs deviate by nothing', () => {
    const manifest = parseManifest(dotsManifest('m', 'nu', DOTS_NU_NORMALIZATION), 'test');
    const { parent } = outputPair(5, 2, 0);
    expect(outputDeviation(manifest, parent, parent.slice(), CROPS)).toEqual({
      maxPositionPx: 0,
      meanPositionPx: 0,
      maxRmseRelative: 0,
      meanNllDelta: 0,
    });
  });

  test('refuses outputs of the wrong length', () => {
    const manifest = parseManifest(dotsManifest('m', 'mu'), 'test');
    const { parent } = outputPair(6, 2, 0);
    expect(() => outputDeviation(manifest, parent, parent.subarray(5), CROPS)).toThrow(/expected 12 × 10 outputs/);
  });
});
