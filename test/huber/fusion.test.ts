import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import {
  createDistribution,
  decodePlanar,
  fuseMean,
  fuseMl,
  fusionCost,
  type HuberDistribution,
  independentPrecision,
  mahalanobisRadius,
  mixtureCovariance,
  pushForward,
} from '../../src/huber/index.js';
import { invertGeneral } from '../../src/huber/linalg.js';
import { RadialSampler, referenceLoss, sampleCovariance } from '../helpers/huber-reference.js';
import { createRng, type Rng } from '../helpers/prng.js';

const PARAMS = { delta: 1, theta: 1, eigenvalueOffset: 3, parameterization: 'nu' as const };

function randomView(rng: Rng, delta: number, center: [number, number], spread: number): HuberDistribution {
  const base = decodePlanar([rng.normal(), rng.normal(), rng.normal() * 2, rng.normal() * 2, rng.normal() * 2], 0, {
    ...PARAMS,
    delta,
  });
  const scale = 1 + 4 * rng.uniform();
  return pushForward(base, [scale, 0, 0, scale], [center[0] + rng.normal() * spread, center[1] + rng.normal() * spread]);
}

/** The objective written from the definition, independent of fusionCost. */
function referenceCost(views: HuberDistribution[], x: number, y: number): number {
  let cost = 0;
  for (const v of views) {
    const dx = x - v.mean[0]!;
    const dy = y - v.mean[1]!;
    const r2 = dx * dx * v.precision[0]! + 2 * dx * dy * v.precision[1]! + dy * dy * v.precision[3]!;
    cost += referenceLoss(Math.sqrt(r2), v.delta);
  }
  return cost;
}

/** Dense grid over the means' bounding box, then compass search shrinking to 1e-10. */
function bruteForce(views: HuberDistribution[]): { x: number; y: number; cost: number } {
  const xs = views.map((v) => v.mean[0]!);
  const ys = views.map((v) => v.mean[1]!);
  const pad = 5;
  const [x0, x1, y0, y1] = [Math.min(...xs) - pad, Math.max(...xs) + pad, Math.min(...ys) - pad, Math.max(...ys) + pad];
  let best = { x: x0, y: y0, cost: Infinity };
  const n = 150;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= n; j++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * j) / n;
      const cost = referenceCost(views, x, y);
      if (cost < best.cost) best = { x, y, cost };
    }
  }
  let step = Math.max(x1 - x0, y1 - y0) / n;
  const directions = [
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
    [1, 1],
    [1, -1],
    [-1, 1],
    [-1, -1],
  ];
  while (step > 1e-10) {
    let improved = false;
    for (const [dx, dy] of directions) {
      const x = best.x + dx! * step;
      const y = best.y + dy! * step;
      const cost = referenceCost(views, x, y);
      if (cost < best.cost) {
        best = { x, y, cost };
        improved = true;
      }
    }
    if (!improved) step /= 2;
  }
  return best;
}

describe('fuseMl', () => {
  it('never increases the cost between iterations', () => {
    const rng = createRng(21);
    for (let trial = 0; trial < 50; trial++) {
      const delta = 0.2 + 2 * rng.uniform();
      const views = Array.from({ length: 2 + (trial % 4) }, () => randomView(rng, delta, [0, 0], 8));
      let point: Float64Array = Float64Array.from(views[0]!.mean);
      let cost = fusionCost(views, point);
      for (let iteration = 0; iteration < 40; iteration++) {
        const next = fuseMl(views, { start: point, maxIterations: 1, tolerance: 1e-300 }).point;
        const nextCost = fusionCost(views, next);
        // At convergence successive costs agree to rounding, so allow 1e-12 relative.
        assert.ok(nextCost <= cost * (1 + 1e-12) + 1e-300, `trial ${trial} iteration ${iteration}: ${nextCost} > ${cost}`);
        point = next;
        cost = nextCost;
      }
    }
  });

  it('matches a brute-force minimiser on random instances', () => {
    const rng = createRng(22);
    for (let trial = 0; trial < 30; trial++) {
      const delta = [0.3, 1, 2.5][trial % 3];
      const views = Array.from({ length: 2 + (trial % 3) }, () => randomView(rng, delta!, [10, -5], 3));
      const result = fuseMl(views, { tolerance: 1e-12, maxIterations: 10_000 });
      assert.ok(result.converged, `trial ${trial} converged`);
      const brute = bruteForce(views);
      expect(referenceCost(views, result.point[0]!, result.point[1]!), `trial ${trial} cost`).toBeCloseToNested(brute.cost, {
        rel: 1e-9,
        abs: 1e-12,
      });
      assert.ok(result.cost <= brute.cost + 1e-9 * (1 + brute.cost));
      expect(result.cost).toBeCloseToNested(referenceCost(views, result.point[0]!, result.point[1]!), { rel: 1e-12 });
      // Strictly convex near the optimum when one view is inside its quadratic zone: the points agree too.
      if (views.some((v) => mahalanobisRadius(v, result.point) < delta!)) {
        expect(result.point, `trial ${trial} point`).toBeCloseToNested([brute.x, brute.y], { abs: 1e-5 });
      }
    }
  });

  it('gives an outlier view (r > δ) less weight than agreeing views', () => {
    const agreeing = [createDistribution([0, 0], [1, 0, 0, 1], 1), createDistribution([0.2, 0.1], [1, 0, 0, 1], 1)];
    const outlier = createDistribution([40, 0], [1, 0, 0, 1], 1);
    const views = [...agreeing, outlier];
    const fused = fuseMl(views);
    assert.ok(mahalanobisRadius(outlier, fused.point) > 1);
    for (const v of agreeing) assert.ok(mahalanobisRadius(v, fused.point) <= 1);
    // Outlier weight δ/r ≈ 1/40 instead of 1: the fused x moves far less than the mean of the means.
    assert.ok(fused.point[0]! < 1, `fused x ${fused.point[0]}`);
    assert.ok(fuseMean(views)[0]! > 13);
    const precision = independentPrecision(views, fused.point);
    const outlierWeight = 1 / mahalanobisRadius(outlier, fused.point);
    expect(precision).toBeCloseToNested([2 + outlierWeight, 0, 0, 2 + outlierWeight], { rel: 1e-12 });
  });

  it('returns a single view as is, and identical views with unchanged covariance', () => {
    const view = decodePlanar([1, -2, 3, 0.5, -1], 0, PARAMS);
    const single = fuseMl([view]);
    assert.deepEqual([single.iterations, single.converged], [0, true]);
    expect(single.point).toBeCloseToNested(view.mean, { abs: 0 });
    const twice = fuseMl([view, view, view]);
    assert.ok(twice.converged);
    expect(twice.point).toBeCloseToNested(view.mean, { abs: 1e-12 });
    expect(mixtureCovariance([view, view, view], twice.point)).toBeCloseToNested(view.covariance, { rel: 1e-12, abs: 1e-18 });
    expect(fuseMean([view, view])).toBeCloseToNested(view.mean, { abs: 1e-15 });
  });

  it('converges in a few iterations where plain MM crawls (two views beyond δ, nearly equal precisions)', () => {
    // Captured from the benchmark: both views sit beyond δ of the optimum on opposite sides, the cost is
    // almost flat along the segment between them, and plain MM needs thousands of tiny zig-zag steps.
    const views = [
      createDistribution(
        [593.4328929578742, 445.1614864218643],
        [0.537280570666647, 0.009566371418765287, 0.009566371418765287, 0.5339635934111213],
        1,
      ),
      createDistribution(
        [593.101799895548, 449.0529192946937],
        [0.5157436675876192, -0.00767693308323019, -0.00767693308323019, 0.5351385414952771],
        1,
      ),
    ];
    const result = fuseMl(views, { tolerance: 1e-9 });
    assert.ok(result.converged && result.iterations <= 20, `${result.iterations} iterations`);
    const brute = bruteForce(views);
    expect(result.cost).toBeCloseToNested(brute.cost, { rel: 1e-9 });
  });

  it('reports an unconverged result at the iteration cap', () => {
    const views = [
      createDistribution([0, 0], [1, 0, 0, 1], 0.1),
      createDistribution([10, 3], [4, 1, 1, 1], 0.1),
      createDistribution([-5, 8], [1, 0, 0, 9], 0.1),
    ];
    const capped = fuseMl(views, { maxIterations: 2, tolerance: 1e-12 });
    assert.deepEqual([capped.iterations, capped.converged], [2, false]);
    const full = fuseMl(views, { maxIterations: 10_000, tolerance: 1e-9 });
    assert.ok(full.converged && full.iterations > 2);
  });

  it('rejects empty or mixed inputs and bad options', () => {
    const a = createDistribution([0, 0], [1, 0, 0, 1], 1);
    assert.throws(() => fuseMl([]), /non-empty/);
    assert.throws(() => fuseMl([a, createDistribution([0, 0], [1, 0, 0, 1], 2)]), /delta 2, expected 1/);
    assert.throws(() => fuseMl([a, createDistribution([0], [1], 1)]), /dimension 1, expected 2/);
    assert.throws(() => fuseMl([a, a], { tolerance: 0 }), /tolerance/);
    assert.throws(() => fuseMl([a, a], { maxIterations: 1.5 }), /maxIterations/);
  });
});

describe('mixtureCovariance', () => {
  it('is the second moment of the equal-weight mixture (Monte Carlo) and widens for disagreeing views', () => {
    const views = [decodePlanar([0.3, 0.1, 1, 0.5, -0.5], 0, PARAMS), decodePlanar([2, -1, 0.5, -0.5, 1], 0, PARAMS)];
    const point = fuseMl(views).point;
    const expected = mixtureCovariance(views, point);
    const rng = createRng(31);
    const sampler = new RadialSampler(2, 1);
    const parts = views.map((v) => sampler.sample(rng, 50_000, v.mean, invertGeneral(v.sqrtPrecision, 2)));
    const all = new Float64Array(200_000);
    all.set(parts[0]!, 0);
    all.set(parts[1]!, 100_000);
    const estimate = sampleCovariance(all, 2, point);
    expect(estimate).toBeCloseToNested(expected, { rel: 0.03 });
    const trace = expected[0]! + expected[3]!;
    const meanTrace =
      (views[0]!.covariance[0]! + views[0]!.covariance[3]! + views[1]!.covariance[0]! + views[1]!.covariance[3]!) / 2;
    assert.ok(trace > meanTrace, 'disagreement widens the mixture');
  });
});
