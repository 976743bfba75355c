import { describe, expect, test } from 'vitest';
import { filterTrack } from '../../src/huber/track-filter.js';
import { RadialSampler, referenceKappa, referenceMoment, referenceRadialIntegral } from '../helpers/huber-reference.js';
import { createRng } from '../helpers/prng.js';
import {
  denseInverse,
  denseMultiply,
  denseTranspose,
  insideRegion,
  referenceProcessNoise,
  referenceTransition,
  cleanCoverageTrack,
  simulateTrack,
  type ReferenceFrame,
} from '../helpers/track-reference.js';

const DELTA = 1;

/** r_0.99 of F_d by bisection on the reference quadrature. */
function referenceOutlierRadius(d: number): number {
  const total = referenceMoment(d - 1, DELTA);
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 80; i++) {
    const mid = 0.5 * (lo + hi);
    if (referenceRadialIntegral(d - 1, DELTA, 0, mid) / total < 0.99) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

interface ReferenceEstimate {
  mean: number[] | null;
  covariance: number[] | null;
  velocity: number[] | null;
  weight: number | null;
  outlier: boolean;
}

/**
 * SPEC §9's filter recursion step by step, with dense matrices: the state after the second observation
 * is the exact Gaussian posterior of the batch from the first observation on (flat prior), and from then
 * on each frame's state is the MAP of the predicted Gaussian times the Huber factor, found by the
 * majorize-minimize fixed point on the whole state, with the information-form update for R_t.
 */
function referenceFilter(frames: readonly ReferenceFrame[], d: number, q: number): ReferenceEstimate[] {
  const m = 2 * d;
  const kappa = referenceKappa(d, DELTA);
  const outlierRadius = referenceOutlierRadius(d);
  const none: ReferenceEstimate = { mean: null, covariance: null, velocity: null, weight: null, outlier: false };
  const observed = frames.map((f, i) => (f.mean === null ? -1 : i)).filter((i) => i >= 0);
  const first = observed[0];
  const second = observed[1];
  if (first === undefined || second === undefined) throw new Error('the reference needs two observed frames');
  const out: ReferenceEstimate[] = [];
  let mean: number[] = [];
  let cov: number[] = [];
  const positionBlock = (p: number[]) => {
    const b = [];
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) b.push(p[i * m + j]!);
    return b;
  };
  for (let t = 0; t < frames.length; t++) {
    const frame = frames[t]!;
    if (t < first || (t > first && t < second && frame.mean === null)) {
      out.push(none);
      continue;
    }
    if (t === first || (t > first && t < second)) {
      out.push(
        t === first ? { mean: frame.mean, covariance: frame.covariance!, velocity: null, weight: 1, outlier: false } : none,
      );
      continue;
    }
    if (t === second) {
      // Batch over states first…second: motion chain plus R⁻¹ = Σ⁻¹ on the two observations.
      const n = second - first + 1;
      const size = n * m;
      const info = new Array<number>(size * size).fill(0);
      const rhs = new Array<number>(size).fill(0);
      for (let k = 0; k + 1 < n; k++) {
        const dt = frames[first + k + 1]!.t - frames[first + k]!.t;
        const f = referenceTransition(dt, d);
        const w = denseInverse(referenceProcessNoise(dt, q, d), m);
        const ftw = denseMultiply(denseTranspose(f, m, m), w, m, m, m);
        const ftwf = denseMultiply(ftw, f, m, m, m);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            info[(k * m + i) * size + k * m + j]! += ftwf[i * m + j]!;
            info[((k + 1) * m + i) * size + (k + 1) * m + j]! += w[i * m + j]!;
            info[(k * m + i) * size + (k + 1) * m + j]! -= ftw[i * m + j]!;
            info[((k + 1) * m + i) * size + k * m + j]! -= ftw[j * m + i]!;
          }
        }
      }
      for (const [k, index] of [
        [0, first],
        [n - 1, second],
      ] as const) {
        const rInv = denseInverse(frames[index]!.covariance!, d);
        const rz = denseMultiply(rInv, frames[index]!.mean!, d, d, 1);
        for (let i = 0; i < d; i++) {
          rhs[k * m + i]! += rz[i]!;
          for (let j = 0; j < d; j++) info[(k * m + i) * size + k * m + j]! += rInv[i * d + j]!;
        }
      }
      const inverse = denseInverse(info, size);
      const solution = denseMultiply(inverse, rhs, size, size, 1);
      mean = solution.slice((n - 1) * m);
      cov = [];
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) cov.push(inverse[((n - 1) * m + i) * size + (n - 1) * m + j]!);
      out.push({ mean: mean.slice(0, d), covariance: positionBlock(cov), velocity: mean.slice(d), weight: 1, outlier: false });
      continue;
    }
    const dt = frame.t - frames[t - 1]!.t;
    const f = referenceTransition(dt, d);
    mean = denseMultiply(f, mean, m, m, 1);
    cov = denseMultiply(denseMultiply(f, cov, m, m, m), denseTranspose(f, m, m), m, m, m).map(
      (v, i) => v + referenceProcessNoise(dt, q, d)[i]!,
    );
    if (frame.mean === null) {
      out.push({ mean: mean.slice(0, d), covariance: positionBlock(cov), velocity: mean.slice(d), weight: null, outlier: false });
      continue;
    }
    const z = frame.mean;
    const lambda = denseInverse(frame.covariance!, d).map((v) => v * kappa);
    const priorInfo = denseInverse(cov, m);
    const priorRhs = denseMultiply(priorInfo, mean, m, m, 1);
    const radiusAt = (s: number[]) => {
      const e = z.map((v, i) => s[i]! - v);
      return Math.sqrt(denseMultiply(e, denseMultiply(lambda, e, d, d, 1), 1, d, 1)[0]!);
    };
    let s = mean.slice();
    for (let iteration = 0; iteration < 100000; iteration++) {
      const r = radiusAt(s);
      const w = r <= DELTA ? 1 : DELTA / r;
      const a = priorInfo.slice();
      const b = priorRhs.slice();
      const lz = denseMultiply(lambda, z, d, d, 1);
      for (let i = 0; i < d; i++) {
        b[i]! += w * lz[i]!;
        for (let j = 0; j < d; j++) a[i * m + j]! += w * lambda[i * d + j]!;
      }
      const next = denseMultiply(denseInverse(a, m), b, m, m, 1);
      const change = Math.max(...next.map((v, i) => Math.abs(v - s[i]!)));
      s = next;
      if (change < 1e-11) break;
    }
    const r = radiusAt(s);
    const weight = Math.min(1, DELTA / r);
    const outlier = r > outlierRadius;
    const rInv = denseInverse(frame.covariance!, d).map((v) => v * (outlier ? weight : 1));
    const posterior = priorInfo.slice();
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) posterior[i * m + j]! += rInv[i * d + j]!;
    cov = denseInverse(posterior, m);
    mean = s;
    out.push({ mean: s.slice(0, d), covariance: positionBlock(cov), velocity: s.slice(d), weight, outlier });
  }
  return out;
}

describe('track filter: SPEC §9 recursion', () => {
  for (const d of [2, 3]) {
    test(`equals an independent step-by-step computation, with outliers, missed frames and irregular steps (d = ${d})`, () => {
      const rng = createRng(60 + d);
      const sampler = new RadialSampler(d, DELTA);
      for (const q of [5, 40]) {
        const sim = simulateTrack(rng, sampler, {
          d,
          frames: 25,
          q,
          delta: DELTA,
          dt: 0.05,
          jitter: 0.6,
          missRate: 0.15,
          grossRate: 0.15,
          noise: 1,
          grossOffset: 20,
        });
        // A missed frame before the first observation and between the first two.
        const frames: ReferenceFrame[] = [
          { t: sim.frames[0]!.t - 0.07, mean: null },
          sim.frames[0]!,
          { t: sim.frames[0]!.t + 0.01, mean: null },
          ...sim.frames.slice(1),
        ];
        const result = filterTrack(frames, { delta: DELTA, level: 0.9, accelerationNoise: q });
        const reference = referenceFilter(frames, d, q);
        expect(result.converged).toBe(true);
        expect(result.outliers).toBeGreaterThan(0);
        result.frames.forEach((frame, t) => {
          const expected = reference[t]!;
          expect(frame.outlier).toBe(expected.outlier);
          for (const key of ['mean', 'covariance', 'velocity'] as const) {
            if (expected[key]! === null) expect(frame[key]!).toBeNull();
            else expect(Array.from(frame[key]!)).toBeCloseToNested(expected[key]!, { rel: 1e-7, abs: 1e-9 });
          }
          if (expected.weight === null) expect(frame.weight).toBeNull();
          else expect(frame.weight!).toBeCloseToNested(expected.weight, { rel: 1e-7 });
        });
      }
    });
  }

  test("a frame's answer is the same whether or not later frames are sent", () => {
    const rng = createRng(77);
    const sim = simulateTrack(rng, new RadialSampler(2, DELTA), {
      d: 2,
      frames: 30,
      q: 30,
      delta: DELTA,
      dt: 1 / 30,
      jitter: 0.3,
      missRate: 0.1,
      grossRate: 0.1,
      noise: 2,
      grossOffset: 30,
    });
    const options = { delta: DELTA, level: 0.9, accelerationNoise: 30 };
    const whole = filterTrack(sim.frames, options).frames;
    for (const cut of [1, 2, 3, 11, 29])
      expect(filterTrack(sim.frames.slice(0, cut), options).frames).toEqual(whole.slice(0, cut));
  });

  test('flat start: the first two observed frames are their measurements; undetermined frames report null', () => {
    const frames = [
      { t: 0, mean: null },
      { t: 0.1, mean: [1, 2], covariance: [1, 0.2, 0.2, 2] },
      { t: 0.2, mean: null },
      // Far from the first: an outlier here passes through (SPEC §9's known limit of the flat start).
      { t: 0.5, mean: [41, -38], covariance: [0.5, 0, 0, 0.5] },
      { t: 0.6, mean: null },
    ];
    const result = filterTrack(frames, { delta: DELTA, level: 0.5, accelerationNoise: 10 });
    expect(result.frames[0]!.mean).toBeNull();
    expect(Array.from(result.frames[1]!.mean!)).toEqual([1, 2]);
    expect(result.frames[1]!.velocity).toBeNull();
    expect(result.frames[2]!).toMatchObject({ mean: null, covariance: null, velocity: null, weight: null, outlier: false });
    expect(Array.from(result.frames[3]!.mean!)).toEqual([41, -38]);
    expect(Array.from(result.frames[3]!.velocity!)).toBeCloseToNested([100, -100], { rel: 1e-12 });
    expect(Array.from(result.frames[3]!.covariance!)).toBeCloseToNested([0.5, 0, 0, 0.5], { rel: 1e-12, abs: 1e-15 });
    // A missed frame after the second observation is predicted by the motion model.
    expect(Array.from(result.frames[4]!.mean!)).toBeCloseToNested([51, -48], { rel: 1e-12 });
    expect(result.frames[4]!.weight).toBeNull();
  });
});

describe('track filter: coverage of the per-frame regions (no gross outliers)', () => {
  const CHI_SQUARE = { 2: { 0.5: -2 * Math.log(0.5), 0.9: -2 * Math.log(0.1) }, 3: { 0.5: 2.365974, 0.9: 6.251389 } } as const;

  /** Share of frames (the fifth on) whose truth lies in the 0.5 and 0.9 regions, on 150 constant-velocity tracks drawn at q. */
  function filterCoverage(d: 2 | 3, q: number): { 0.5: number; 0.9: number } {
    const rng = createRng(700 + d);
    const sampler = new RadialSampler(d, DELTA);
    const hits = { 0.5: 0, 0.9: 0 };
    let count = 0;
    for (let rep = 0; rep < 150; rep++) {
      const sim = simulateTrack(rng, sampler, cleanCoverageTrack(d, q, DELTA));
      const result = filterTrack(sim.frames, { delta: DELTA, level: 0.5, accelerationNoise: q });
      result.frames.forEach((frame, t) => {
        // The first two observed frames are raw measurements whatever the rule; count from the fifth frame on.
        if (t < 5 || frame.mean === null) return;
        count++;
        for (const level of [0.5, 0.9] as const) {
          if (insideRegion(sim.truth[t]!, frame.mean, frame.covariance!, Math.sqrt(CHI_SQUARE[d][level]), d)) hits[level]++;
        }
      });
    }
    const coverage = { 0.5: hits[0.5] / count, 0.9: hits[0.9] / count };
    console.log(
      `filter coverage d=${d}, q=${q}: ${coverage[0.5].toFixed(3)} at 0.5, ${coverage[0.9].toFixed(3)} at 0.9 over ${count} frames`,
    );
    return coverage;
  }

  // Margins: frames of one track share their errors, so the standard error comes from the spread between
  // tracks, not the binomial one over frames: `npx tsx bench/smoothing-accuracy.ts --regimes` (600 other
  // tracks per row) measures about 0.004 there, so about 0.008 for these 150. At q = 50 that bench measures
  // 0.519 ± 0.004 / 0.872 ± 0.003 (2-D) and 0.498 ± 0.004 at 0.5 (3-D); these seeds give 0.514 / 0.862 and
  // 0.522, each edge of the ±0.05 band at least 0.012 (1.5 of these standard errors) away. A covariance 20 %
  // too narrow or too wide moves a Gaussian's 2-D coverage by 0.04 to 0.07, so the band does catch a wrong rule.
  test('within ±0.05 of nominal at 0.5 and 0.9 where the motion is slow against the noise (d = 2, q = 50)', () => {
    const coverage = filterCoverage(2, 50);
    expect(Math.abs(coverage[0.5] - 0.5)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(coverage[0.9] - 0.9)).toBeLessThanOrEqual(0.05);
  });

  test('within ±0.05 of nominal at 0.5 (d = 3, q = 50)', () => {
    expect(Math.abs(filterCoverage(3, 50)[0.5] - 0.5)).toBeLessThanOrEqual(0.05);
  });

  // A known miss of issue 14's goal, kept as the goal itself: at level 0.9 the 3-D filter covers 0.838 to
  // 0.850 for q from 100 to 400 (0.853 at 50, 0.859 at 800 where level 0.5 is over, docs/smoothing.md). The
  // rule's Kalman covariance assumes each frame moved the state by the full Kalman gain, while the MAP moves
  // it by a different amount (more near the prediction, where the Huber factor is κ_d(δ) times sharper than
  // a Gaussian, less in its linear zone), so the filtered state's error is larger than its covariance says.
  // vitest reports this test as an expected failure; once the rule covers, it fails and belongs above.
  test.fails('within ±0.05 of nominal at 0.9 (d = 3, q = 200): known miss, 0.84', () => {
    expect(Math.abs(filterCoverage(3, 200)[0.9] - 0.9)).toBeLessThanOrEqual(0.05);
  });
});
