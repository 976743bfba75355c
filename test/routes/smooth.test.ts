import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startService, type RunningService } from '../helpers/service.js';

let service: RunningService;

beforeAll(async () => {
  // No models are needed: smoothing takes distributions, not images.
  service = await startService({ models: [] });
});

afterAll(async () => {
  await service.close();
});

const post = (body: unknown) =>
  request(service.url)
    .post('/v1/smooth')
    .send(body as object);

/** A noiseless straight line at 30 fps: any smoother worth its name returns the line itself. */
function straightLine(frames: number, d: 2 | 3) {
  const start = d === 2 ? [100, 50] : [100, 50, -20];
  const velocity = d === 2 ? [30, -12] : [30, -12, 6];
  const covariance =
    d === 2
      ? [
          [4, 1],
          [1, 3],
        ]
      : [
          [4, 1, 0],
          [1, 3, 0.5],
          [0, 0.5, 2],
        ];
  return Array.from({ length: frames }, (_, i) => {
    const t = i / 30;
    return { t, mean: start.map((x, k) => x + velocity[k]! * t), covariance };
  });
}

describe('POST /v1/smooth', () => {
  test('a straight 2-D track with a missed frame and a gross outlier: the line, the velocity, the flags', async () => {
    const observations: object[] = straightLine(20, 2);
    observations[7] = { t: 7 / 30, mean: null };
    const gross = straightLine(20, 2)[12]!;
    observations[12] = { ...gross, mean: [gross.mean[0]! + 80, gross.mean[1]!] };
    const response = await post({ level: 0.9, motion: { accelerationNoise: 50 }, tracks: [{ name: 'nose', observations }] });
    expect(response.status).toBe(200);
    expect(response.body.mode).toBe('smoother');
    const [track] = response.body.tracks;
    expect(track.name).toBe('nose');
    expect(track.converged).toBe(true);
    expect(track.outliers).toBe(1);
    expect(track.frames).toHaveLength(20);
    track.frames.forEach((frame: any, i: number) => {
      const t = i / 30;
      // 80 px off on one frame moves the robust track by a small fraction of a pixel.
      expect(frame.mean).toBeCloseToNested([100 + 30 * t, 50 - 12 * t], { abs: 0.3 });
      expect(frame.velocity).toBeCloseToNested([30, -12], { abs: 6 });
      expect(frame.region).toEqual({ level: 0.9, radius: expect.any(Number) });
      expect(frame.region.radius ** 2).toBeCloseToNested(-2 * Math.log(0.1), { rel: 1e-9 });
      expect(frame.covariance[0][1]).toBe(frame.covariance[1][0]);
      expect(frame.covariance[0][0]).toBeGreaterThan(0);
      // Combining frames leaves less uncertainty than one frame's Σ.
      expect(frame.covariance[0][0]).toBeLessThan(4);
    });
    expect(track.frames[7]).toMatchObject({ weight: null, outlier: false });
    expect(track.frames[12].outlier).toBe(true);
    expect(track.frames[12].weight).toBeLessThan(0.1);
    expect(track.frames.filter((frame: any) => frame.outlier)).toHaveLength(1);
  });

  test('filter mode is causal over HTTP: a prefix of the track gets the same frames', async () => {
    const observations = straightLine(15, 3).map((frame, i) => ({
      ...frame,
      mean: frame.mean.map((x, k) => x + Math.sin(3 * i + k)),
    }));
    const body = (frames: object[]) => ({
      mode: 'filter',
      level: 0.5,
      motion: { accelerationNoise: 80 },
      tracks: [{ observations: frames }],
    });
    const whole = await post(body(observations));
    const prefix = await post(body(observations.slice(0, 9)));
    expect(whole.status).toBe(200);
    expect(whole.body.mode).toBe('filter');
    expect(prefix.body.tracks[0].frames).toEqual(whole.body.tracks[0].frames.slice(0, 9));
    // The first observed frame is its measurement, with no velocity yet.
    expect(whole.body.tracks[0].frames[0].mean).toEqual(observations[0]!.mean);
    expect(whole.body.tracks[0].frames[0].velocity).toBeNull();
    expect(whole.body.tracks[0].frames[0].region.radius ** 2).toBeCloseToNested(2.365974, { rel: 1e-6 });
  });

  test('many tracks per request, 2-D and 3-D side by side; one observed frame gives no velocity', async () => {
    const response = await post({
      motion: { accelerationNoise: 10 },
      tracks: [
        { observations: straightLine(5, 2) },
        { observations: straightLine(4, 3) },
        {
          observations: [
            { t: 0, mean: null },
            {
              t: 1,
              mean: [1, 2],
              covariance: [
                [1, 0],
                [0, 1],
              ],
            },
          ],
        },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.tracks.map((track: any) => track.frames[0].mean?.length ?? null)).toEqual([2, 3, null]);
    const lone = response.body.tracks[2].frames;
    expect(lone[0]).toMatchObject({ mean: null, covariance: null, region: null, velocity: null, weight: null, outlier: false });
    expect(lone[1]).toMatchObject({
      mean: [1, 2],
      covariance: [
        [1, 0],
        [0, 1],
      ],
      velocity: null,
      weight: 1,
      outlier: false,
    });
  });

  const cov = [
    [1, 0],
    [0, 1],
  ];
  const bad: [string, (observations: any[]) => void, string][] = [
    ['times not strictly increasing', (o) => (o[3].t = o[2].t), 'tracks[1].observations[3].t'],
    [
      'a singular covariance',
      (o) =>
        (o[2].covariance = [
          [1, 1],
          [1, 1],
        ]),
      'tracks[1].observations[2].covariance',
    ],
    [
      'a covariance that is not positive definite',
      (o) =>
        (o[2].covariance = [
          [1, 2],
          [2, 1],
        ]),
      'tracks[1].observations[2].covariance',
    ],
    [
      'a covariance that is not symmetric',
      (o) =>
        (o[1].covariance = [
          [1, 0.5],
          [0.2, 1],
        ]),
      'tracks[1].observations[1].covariance',
    ],
    [
      'mixed dimensions in a track',
      (o) =>
        (o[4] = {
          t: o[4].t,
          mean: [1, 2, 3],
          covariance: [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
        }),
      'tracks[1].observations[4].mean',
    ],
    [
      'a covariance of the wrong shape',
      (o) =>
        (o[1].covariance = [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
      'tracks[1].observations[1].covariance',
    ],
    ['an observed frame without covariance', (o) => delete o[2].covariance, 'tracks[1].observations[2].covariance'],
    [
      'a missed frame with a covariance',
      (o) => (o[2] = { t: o[2].t, mean: null, covariance: cov }),
      'tracks[1].observations[2].covariance',
    ],
  ];
  for (const [what, spoil, path] of bad) {
    test(`${what} is a 4xx problem naming ${path}`, async () => {
      const observations: any[] = straightLine(6, 2).map((frame) => ({
        ...frame,
        covariance: frame.covariance.map((row) => [...row]),
      }));
      spoil(observations);
      const response = await post({
        motion: { accelerationNoise: 10 },
        tracks: [{ observations: straightLine(3, 2) }, { observations }],
      });
      expect(response.status).toBe(422);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.path).toBe(path);
      expect(response.body.detail).toContain(path);
    });
  }

  test('a motion prior too stiff to weigh the frames is 422 naming the track', async () => {
    const response = await post({ motion: { accelerationNoise: 1e-10 }, tracks: [{ observations: straightLine(4, 2) }] });
    expect(response.status).toBe(422);
    expect(response.body.path).toBe('tracks[0]');
    expect(response.body.detail).toContain('accelerationNoise');
  });

  test('a coordinate that overflows to Infinity is 400 naming it', async () => {
    const body = JSON.stringify({ motion: { accelerationNoise: 10 }, tracks: [{ observations: straightLine(4, 2) }] }).replace(
      '"mean":[100,50]',
      '"mean":[1e999,50]',
    );
    const response = await request(service.url).post('/v1/smooth').set('content-type', 'application/json').send(body);
    expect(response.status).toBe(400);
    expect(response.body.errors[0].path).toBe('/tracks/0/observations/0/mean/0');
  });

  test('schema violations are 400 naming the field: NaN as text, a non-positive noise, no motion, an unknown mode', async () => {
    const observations = straightLine(3, 2);
    const cases: [object, string][] = [
      [
        { motion: { accelerationNoise: 10 }, tracks: [{ observations: [{ ...observations[0], mean: ['NaN', 1] }] }] },
        '/tracks/0/observations/0/mean',
      ],
      [{ motion: { accelerationNoise: 0 }, tracks: [{ observations }] }, '/motion/accelerationNoise'],
      [{ tracks: [{ observations }] }, 'motion'],
      [{ motion: { accelerationNoise: 10 }, mode: 'kalman', tracks: [{ observations }] }, '/mode'],
    ];
    for (const [body, named] of cases) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.detail).toContain(named.replace(/^\//, ''));
    }
  });

  test('the frames counter and iteration histogram move with a request', async () => {
    const before = await request(service.url).get('/metrics');
    const count = (text: string) => Number(/huber_smoothing_frames_total\{mode="smoother"\} (\d+)/.exec(text)?.[1] ?? 0);
    await post({ motion: { accelerationNoise: 10 }, tracks: [{ observations: straightLine(11, 2) }] });
    const after = await request(service.url).get('/metrics');
    expect(count(after.text) - count(before.text)).toBe(11);
    expect(after.text).toMatch(/huber_smoothing_iterations_count\{mode="smoother"\} \d+/);
  });
});
