import { describe, expect, test } from 'vitest';
import { prepareTrack, TrackInputError, type TrackFrameInput } from '../../src/huber/track.js';

const OPTIONS = { delta: 1, level: 0.9, accelerationNoise: 10 };
const good = (t: number, x = t): TrackFrameInput => ({ t, mean: [x, 2 * x], covariance: [1, 0.1, 0.1, 2] });

function refusal(frames: TrackFrameInput[]): { frame: number; field: string; message: string } {
  try {
    prepareTrack(frames, OPTIONS);
  } catch (error) {
    expect(error).toBeInstanceOf(TrackInputError);
    const { frame, field, message } = error as TrackInputError;
    return { frame, field, message };
  }
  throw new Error('the track was accepted');
}

describe('track input', () => {
  test('each kind of bad frame is refused naming the frame and field', () => {
    expect(refusal([good(0), good(0.1), good(0.1)])).toMatchObject({ frame: 2, field: 't' });
    expect(refusal([good(0), good(-1)])).toMatchObject({ frame: 1, field: 't' });
    expect(refusal([good(0), { ...good(1), t: Number.NaN }])).toMatchObject({ frame: 1, field: 't' });
    expect(refusal([good(0), { t: 1, mean: [1, Number.NaN], covariance: [1, 0, 0, 1] }])).toMatchObject({
      frame: 1,
      field: 'mean',
    });
    expect(refusal([good(0), { t: 1, mean: [1, 2, 3], covariance: [1, 0, 0, 0, 1, 0, 0, 0, 1] }])).toMatchObject({
      frame: 1,
      field: 'mean',
    });
    expect(refusal([good(0), { t: 1, mean: [1, 2], covariance: [1, 0.5, 0.4, 1] }])).toMatchObject({
      frame: 1,
      field: 'covariance',
    });
    expect(refusal([good(0), { t: 1, mean: [1, 2], covariance: [1, 1, 1, 1] }])).toMatchObject({ frame: 1, field: 'covariance' });
    expect(refusal([good(0), { t: 1, mean: [1, 2], covariance: [1, 2, 2, 1] }])).toMatchObject({ frame: 1, field: 'covariance' });
    expect(refusal([good(0), { t: 1, mean: [1, 2], covariance: [1, 0, 0] }])).toMatchObject({ frame: 1, field: 'covariance' });
    expect(refusal([good(0), { t: 1, mean: [1, 2] }])).toMatchObject({ frame: 1, field: 'covariance' });
    expect(refusal([good(0), { t: 1, mean: null, covariance: [1, 0, 0, 1] }])).toMatchObject({ frame: 1, field: 'covariance' });
    expect(refusal([good(0), good(1e-130)])).toMatchObject({ frame: 1, field: 't' });
  });

  test('rounding-level asymmetry is accepted and averaged; missed frames need no covariance', () => {
    const track = prepareTrack(
      [
        { t: 0, mean: [1, 2], covariance: [1, 0.3, 0.3 + 1e-12, 2] },
        { t: 1, mean: null },
      ],
      OPTIONS,
    );
    expect(track.covariance[1]).toBe(track.covariance[2]);
    expect(track.observedCount).toBe(1);
    expect(Array.from(track.observed)).toEqual([1, 0]);
  });
});
