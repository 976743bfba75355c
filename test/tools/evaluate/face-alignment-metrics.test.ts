import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';
import {
  areaUnderCurve,
  failureRate,
  interOcularDistance,
  normalizedMeanError,
} from '../../../tools/evaluate/face-alignment-metrics.js';
import { simpson } from '../../helpers/integrate.js';
import { createRng } from '../../helpers/prng.js';

describe('NME, FR and AUC', () => {
  test('AUC@0.1 equals the area under the cumulative error distribution, integrated numerically', () => {
    const rng = createRng(1204);
    const errors = Array.from({ length: 57 }, () => rng.range(0, 0.16));
    const ced = (x: number) => errors.filter((e) => e <= x).length / errors.length;
    // The step function integrated piece by piece between its jumps, each piece by adaptive Simpson.
    const jumps = [0, ...errors.filter((e) => e < 0.1).sort((a, b) => a - b), 0.1];
    let area = 0;
    for (let i = 1; i < jumps.length; i++) {
      const [a, b] = [jumps[i - 1]!, jumps[i]!];
      if (b > a) area += simpson((x) => ced(x), a + 1e-15, b - 1e-15);
    }
    expect(areaUnderCurve(errors)).toBeCloseToNested(area / 0.1, { rel: 1e-9 });
    expect(failureRate(errors)).toBeCloseToNested(errors.filter((e) => e > 0.1).length / errors.length, { rel: 0 });
  });

  test('NME divides the mean point distance by the normalizer; the inter-ocular distance uses landmarks 60 and 72', () => {
    const truth = new Array(196).fill(0);
    truth[120] = 10;
    truth[121] = 20;
    truth[144] = 40;
    truth[145] = 60;
    assert.equal(interOcularDistance(truth), 50);
    const predicted = truth.map((v, i) => (i === 0 ? v + 3 : i === 1 ? v + 4 : v));
    expect(normalizedMeanError(predicted, truth, 50)).toBeCloseToNested(5 / 98 / 50, { rel: 1e-15 });
    assert.throws(() => normalizedMeanError(predicted, truth, 0), /normalizer must be positive/);
    assert.throws(() => normalizedMeanError([1, 2], truth, 1), /same number/);
  });
});
