import { describe, expect, test } from 'vitest';
import {
  packTrackEstimate,
  packTrackInput,
  trackEstimateBuffers,
  trackInputBuffers,
  unpackTrackEstimate,
  unpackTrackInput,
} from '../../src/evidence/track-codec.js';
import type { TrackEstimate, TrackFrameInput } from '../../src/huber/track.js';
import { createRng } from '../helpers/prng.js';

const random = createRng(23);

/** Frames as a request may send them: missed frames with and without a covariance key, 2-D and 3-D mixed. */
const input: TrackFrameInput[] = [
  { t: 0, mean: [1.5, -2], covariance: [1, 0.1, 0.1, 2] },
  { t: 0.1, mean: null },
  { t: 0.2, mean: null, covariance: null },
  { t: 0.3, mean: [random.normal(), random.normal(), random.normal()], covariance: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  { t: 0.4, mean: [3, 4], covariance: [2, 0, 0, 2] },
];

const estimate: TrackEstimate = {
  dimension: 2,
  level: 0.9,
  regionRadius: 2.146,
  iterations: 7,
  converged: true,
  outliers: 1,
  frames: [
    {
      t: 0,
      mean: Float64Array.from([1, 2]),
      covariance: Float64Array.from([1, 0.2, 0.2, 3]),
      velocity: null,
      weight: 1,
      mahalanobis: 0.4,
      outlier: false,
    },
    {
      t: 0.5,
      mean: Float64Array.from([random.normal(), random.normal()]),
      covariance: Float64Array.from([0.5, 0, 0, 0.5]),
      velocity: Float64Array.from([random.normal(), random.normal()]),
      weight: null,
      mahalanobis: null,
      outlier: false,
    },
    {
      t: 1,
      mean: Float64Array.from([5, 6]),
      covariance: Float64Array.from([4, 1, 1, 4]),
      velocity: Float64Array.from([0, -1]),
      weight: 0.25,
      mahalanobis: 4,
      outlier: true,
    },
  ],
};

const plain = (frames: readonly object[]) =>
  JSON.parse(JSON.stringify(frames, (_key, value) => (ArrayBuffer.isView(value) ? Array.from(value as Float64Array) : value)));

describe('track codec', () => {
  test('input frames come back with the same values, missed frames with a null covariance', () => {
    const back = unpackTrackInput(packTrackInput(input));
    expect(plain(back)).toEqual(plain(input.map((frame) => ({ ...frame, covariance: frame.covariance ?? null }))));
  });

  test('an estimate comes back equal, nulls and flags included', () => {
    const back = unpackTrackEstimate(packTrackEstimate(estimate));
    expect(back).toEqual(estimate);
  });

  test('the buffers listed are distinct and can be transferred: the packed arrays move without a copy', () => {
    const packedInput = packTrackInput(input);
    const packedEstimate = packTrackEstimate(estimate);
    for (const buffers of [trackInputBuffers(packedInput), trackEstimateBuffers(packedEstimate)]) {
      expect(new Set(buffers).size).toBe(buffers.length);
    }
    const moved = structuredClone(packedEstimate, { transfer: trackEstimateBuffers(packedEstimate) });
    expect(packedEstimate.t.length).toBe(0);
    expect(unpackTrackEstimate(moved)).toEqual(estimate);
    const movedInput = structuredClone(packedInput, { transfer: trackInputBuffers(packedInput) });
    expect(packedInput.mean.values.length).toBe(0);
    expect(plain(unpackTrackInput(movedInput))).toEqual(plain(unpackTrackInput(packTrackInput(input))));
  });
});
