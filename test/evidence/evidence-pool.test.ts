import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, test } from 'vitest';
import { rigFromSource, type RigSource } from '../../src/calibration/camera-rig.js';
import { RefusedItemError, EvidencePool } from '../../src/evidence/evidence-pool.js';
import { EvidenceError } from '../../src/huber/fusion-errors.js';
import { fusePoint, type GaussianObservation } from '../../src/huber/point-fusion.js';
import { TrackInputError, type TrackFrameInput } from '../../src/huber/track.js';
import { filterTrack } from '../../src/huber/track-filter.js';
import { smoothTrack } from '../../src/huber/track-smoother.js';
import { triangulatePoint, type CameraObservation, type TriangulationOptions } from '../../src/huber/triangulation.js';
import { rigIntrinsics } from '../helpers/camera-rig.js';
import { createRng } from '../helpers/prng.js';
import { threadNiceValues } from '../helpers/thread-nice.js';

const SOURCE: RigSource = {
  cameras: rigIntrinsics().map(({ name, intrinsics }) => ({ name, ...intrinsics, size: [...(intrinsics.size ?? [1920, 1080])] })),
  source: 'cameras',
};
const RIG = rigFromSource(SOURCE, 8);
const OPTIONS: TriangulationOptions = { delta: 1, level: 0.9 };

/** Points in the rig's volume seen by every camera with 2 px noise, the odd ones with a flip partner. */
function scene(count: number, seed: number): CameraObservation[][] {
  const random = createRng(seed);
  return Array.from({ length: count }, (_, k) => {
    const X = [400 * (random.uniform() - 0.5), 300 * (random.uniform() - 0.5), 900 * random.uniform()];
    const partner = [X[0]! + 150, X[1]!, X[2]!];
    return [...RIG.values()].map((camera) => {
      const pixel = camera.project(X);
      const observation: CameraObservation = {
        camera: camera.name,
        mean: [pixel[0]! + 2 * random.normal(), pixel[1]! + 2 * random.normal()],
        covariance: [4, 0.5, 0.5, 3],
      };
      if (k % 2 === 1) {
        const other = camera.project(partner);
        observation.alternatives = [{ mean: [other[0]!, other[1]!], covariance: [4, 0.5, 0.5, 3], prior: 0.05 }];
      }
      return observation;
    });
  });
}

/** A point whose first covariance is not positive definite: refused by the math before any solving. */
function refusedPoint(base: CameraObservation[]): CameraObservation[] {
  return base.map((observation, c) => (c === 0 ? { ...observation, covariance: [1, 2, 2, 1] } : observation));
}

const pools: EvidencePool[] = [];
function pool(size: number): EvidencePool {
  const created = new EvidencePool({ size, nice: 0 });
  pools.push(created);
  return created;
}
afterAll(async () => Promise.all(pools.map((created) => created.close())));

describe('EvidencePool', () => {
  const points = scene(11, 3);
  const onThisThread = points.map((observations) => triangulatePoint(RIG, observations, OPTIONS));

  test.each([1, 3])('%i thread(s) return exactly what triangulatePoint returns here, in order', async (size) => {
    // 11 points: runs of 2 with 3 threads, 4 with 1, so results come back out of order and in pieces.
    expect(await pool(size).triangulate(SOURCE, 8, points, OPTIONS)).toEqual(onThisThread);
  });

  test('the refusal reported is the first in point order, with the math’s own message and path', async () => {
    const withRefusals = [...points];
    withRefusals[2] = refusedPoint(points[2]!);
    // With 2 threads the runs are points 0–2 and 3–5: the second reaches its refusal after one solve, the
    // first after two, so the refusal at 4 arrives first and must not be the one reported.
    withRefusals[4] = refusedPoint(points[4]!);
    let expected: EvidenceError | undefined;
    try {
      triangulatePoint(RIG, withRefusals[2], OPTIONS);
    } catch (error) {
      expected = error as EvidenceError;
    }
    expect(expected).toBeInstanceOf(EvidenceError);
    for (const size of [1, 2, 4]) {
      const failure = await pool(size)
        .triangulate(SOURCE, 8, withRefusals, OPTIONS)
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(failure).toBeInstanceOf(RefusedItemError);
      const refused = failure as RefusedItemError;
      expect(refused.index).toBe(2);
      expect(refused.refusal).toBeInstanceOf(EvidenceError);
      expect({ message: refused.refusal.message, path: (refused.refusal as EvidenceError).path }).toEqual({
        message: expected!.message,
        path: expected!.path,
      });
    }
  });

  test('a run check that throws stops handing out runs, and the pool stays usable', async () => {
    const twoThreads = pool(2);
    const seen: number[] = [];
    const stop = new Error('deadline');
    const many = scene(24, 5);
    await expect(
      twoThreads.triangulate(SOURCE, 8, many, OPTIONS, (done) => {
        seen.push(done);
        if (seen.length === 4) throw stop;
      }),
    ).rejects.toBe(stop);
    // 24 points in runs of 4 (2 runs per thread would be 6 points; the cap is 4): 6 runs, of which 3 went out.
    expect(seen).toHaveLength(4);
    expect(seen[0]).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    // The pool is still usable after a stop.
    expect(await twoThreads.triangulate(SOURCE, 8, many.slice(0, 2), OPTIONS)).toEqual(
      many.slice(0, 2).map((observations) => triangulatePoint(RIG, observations, OPTIONS)),
    );
  });

  test('the math runs off the calling thread: its event loop stays almost idle meanwhile', async () => {
    const twoThreads = pool(2);
    await twoThreads.start();
    await twoThreads.triangulate(SOURCE, 8, points.slice(0, 4), OPTIONS); // both threads warm
    const many = scene(40, 7);
    const before = performance.eventLoopUtilization();
    await twoThreads.triangulate(SOURCE, 8, many, OPTIONS);
    const pooled = performance.eventLoopUtilization(before).utilization;
    // The same points here for comparison: the loop is then busy all along.
    const inlineBefore = performance.eventLoopUtilization();
    await Promise.resolve().then(() => many.forEach((observations) => triangulatePoint(RIG, observations, OPTIONS)));
    const inline = performance.eventLoopUtilization(inlineBefore).utilization;
    expect(inline).toBeGreaterThan(0.9);
    expect(pooled).toBeLessThan(0.25);
  });

  test('fusion: the same results as fusePoint here, in order, and the first refusal in point order', async () => {
    const random = createRng(11);
    const fusionPoints: GaussianObservation[][] = Array.from({ length: 9 }, (_, k) =>
      Array.from({ length: 2 + (k % 3) }, () => ({
        mean: k % 2 === 0 ? [random.normal(), random.normal()] : [random.normal(), random.normal(), random.normal()],
        covariance: k % 2 === 0 ? [2, 0.3, 0.3, 1] : [2, 0.3, 0, 0.3, 1, 0.1, 0, 0.1, 1.5],
      })),
    );
    const options = { delta: 1, level: 0.9, sensitivities: true };
    const twoThreads = pool(2);
    expect(await twoThreads.fuse(fusionPoints, options)).toEqual(
      fusionPoints.map((observations) => fusePoint(observations, options)),
    );
    const withRefusals = [...fusionPoints];
    withRefusals[1] = [fusionPoints[1]![0]!, { mean: [0, 0, 0], covariance: [1, 0, 0, 0, -1, 0, 0, 0, 1] }];
    withRefusals[7] = [fusionPoints[7]![0]!, { mean: [0, 0], covariance: [1, 0, 0, 1] }];
    const failure = await twoThreads.fuse(withRefusals, options).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RefusedItemError);
    expect((failure as RefusedItemError).index).toBe(1);
    expect(() => fusePoint(withRefusals[1]!, options)).toThrow((failure as RefusedItemError).refusal.message);
  });

  test('smoothing: the same tracks as smoothTrack and filterTrack here, and the first refusal with its frame and field', async () => {
    const random = createRng(19);
    const tracks: TrackFrameInput[][] = Array.from({ length: 7 }, (_, k) =>
      Array.from({ length: 30 + 10 * k }, (_, i) => ({
        t: i / 30,
        mean: i % 9 === 4 ? null : [Math.sin(i / 7) * 20 + random.normal(), 0.5 * i + random.normal()],
        ...(i % 9 === 4 ? {} : { covariance: [1, 0.2, 0.2, 2] }),
      })),
    );
    const options = { delta: 1, level: 0.9, accelerationNoise: 40 };
    const twoThreads = pool(2);
    expect(await twoThreads.smooth('smoother', tracks, options)).toEqual(tracks.map((frames) => smoothTrack(frames, options)));
    expect(await twoThreads.smooth('filter', tracks, options)).toEqual(tracks.map((frames) => filterTrack(frames, options)));

    // Tracks 3 and 5 go back in time at frame 6; track 3 is the one to report, with the frame and field.
    const refused = tracks.map((frames, k) =>
      k === 3 || k === 5 ? frames.map((frame, i) => (i === 6 ? { ...frame, t: frames[2]!.t } : frame)) : frames,
    );
    const failure = await twoThreads.smooth('smoother', refused, options).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(RefusedItemError);
    expect((failure as RefusedItemError).index).toBe(3);
    const cause = (failure as RefusedItemError).refusal;
    expect(cause).toBeInstanceOf(TrackInputError);
    let here: TrackInputError | undefined;
    try {
      smoothTrack(refused[3]!, options);
    } catch (error) {
      here = error as TrackInputError;
    }
    expect({ frame: (cause as TrackInputError).frame, field: (cause as TrackInputError).field, message: cause.message }).toEqual({
      frame: here!.frame,
      field: here!.field,
      message: here!.message,
    });
  });

  test.skipIf(process.platform !== 'linux')('the threads run at the nice value given, the calling thread at 0', async () => {
    const before = new Set(threadNiceValues().keys());
    const niced = new EvidencePool({ size: 2, nice: 7 });
    pools.push(niced);
    await niced.start();
    const after = threadNiceValues();
    const lowered = [...after].filter(([thread, nice]) => !before.has(thread) && nice === 7);
    expect(lowered.length).toBeGreaterThanOrEqual(2);
    expect(after.get(process.pid)).toBe(0);
  });

  test('a closed pool refuses work, a pool needs a thread, and nothing to do starts none', async () => {
    const closed = pool(1);
    await closed.close();
    await expect(closed.triangulate(SOURCE, 8, points.slice(0, 1), OPTIONS)).rejects.toThrow('closed');
    await expect(closed.start()).rejects.toThrow('closed');
    expect(() => new EvidencePool({ size: 0, nice: 0 })).toThrow(RangeError);
    // Nothing to do starts no thread.
    const threads = threadNiceValues().size;
    expect(await pool(2).triangulate(SOURCE, 8, [], OPTIONS)).toEqual([]);
    expect(threadNiceValues().size).toBe(threads);
  });
});
