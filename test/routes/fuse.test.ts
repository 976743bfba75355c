import assert from 'node:assert/strict';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceKappa, referenceLoss } from '../helpers/huber-reference.js';
import { integrate } from '../helpers/integrate.js';
import { referenceCost, referenceMoments, referenceQuantile, type ReferenceFactor } from '../helpers/posterior-reference.js';
import { startService, type RunningService } from '../helpers/service.js';

type Matrix = number[][];

const flat = (m: Matrix) => m.flat();

function inverse2(m: Matrix): Matrix {
  const det = m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!;
  return [
    [m[1]![1]! / det, -m[0]![1]! / det],
    [-m[1]![0]! / det, m[0]![0]! / det],
  ];
}

/** Λ = κ_2(δ)·Σ⁻¹ (docs/spec.md §9), with κ from the reference quadrature. */
function precisionOf(covariance: Matrix, delta: number): number[] {
  return flat(inverse2(covariance)).map((value) => value * referenceKappa(2, delta));
}

/** Eigenvalues of a symmetric 2×2, largest first. */
function eigenvalues2(m: Matrix): [number, number] {
  const a = m[0]![0]!;
  const b = m[0]![1]!;
  const c = m[1]![1]!;
  const mean = (a + c) / 2;
  const spread = Math.hypot((a - c) / 2, b);
  return [mean + spread, mean - spread];
}

/**
 * Posterior mass of the region (y − m)ᵀ S⁻¹ (y − m) ≤ R² by quadrature in polar coordinates of the frame
 * y = m + L·ρ(cos θ, sin θ), L the Cholesky factor of S.
 */
function regionMass(
  factors: readonly ReferenceFactor[],
  delta: number,
  mean: number[],
  covariance: Matrix,
  radius: number,
): number {
  const l00 = Math.sqrt(covariance[0]![0]!);
  const l10 = covariance[1]![0]! / l00;
  const l11 = Math.sqrt(covariance[1]![1]! - l10 * l10);
  const base = referenceCost(factors, mean, delta);
  const density = (rho: number, theta: number) => {
    const u = rho * Math.cos(theta);
    const v = rho * Math.sin(theta);
    return rho * Math.exp(base - referenceCost(factors, [mean[0]! + l00 * u, mean[1]! + l10 * u + l11 * v], delta));
  };
  const radial = (upper: number) =>
    integrate((theta) => integrate((rho) => density(rho, theta), 0, upper, 1e-8, 1e-300), 0, 2 * Math.PI, 1e-8);
  // Beyond 40 standard deviations of the reported covariance the Huber tails hold far less than 1e-8.
  return radial(radius) / radial(40);
}

describe('POST /v1/fuse', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], env: { MAX_FUSION_POINTS: '4', MAX_OBSERVATIONS_PER_POINT: '5' } });
  });
  afterAll(async () => service.close());

  const fuse = (body: unknown) =>
    request(service.url)
      .post('/v1/fuse')
      .send(body as object);

  test('one observation returns itself: mean, mode, covariance, and the ellipse predict would draw', async () => {
    const covariance = [
      [9, 2.5],
      [2.5, 4],
    ];
    const response = await fuse({
      level: 0.95,
      points: [{ name: 'nose', observations: [{ mean: [120.5, 80.25], covariance }] }],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    assert.equal(point.name, 'nose');
    expect(point.mean).toBeCloseToNested([120.5, 80.25], { rel: 1e-9 });
    expect(point.mode).toBeCloseToNested([120.5, 80.25], { rel: 1e-9 });
    expect(point.covariance).toBeCloseToNested(covariance, { rel: 1e-4 });
    // docs/spec.md §1 check values for d = 2, δ = 1: r_0.95 ≈ 4.775234, κ ≈ 3.076474.
    const radius = 4.775234 / Math.sqrt(3.076474);
    assert.equal(point.region.level, 0.95);
    expect(point.region.radius).toBeCloseToNested(radius, { rel: 1e-5 });
    const [major, minor] = eigenvalues2(covariance);
    expect(point.ellipse.semiMajor).toBeCloseToNested(radius * Math.sqrt(major), { rel: 1e-4 });
    expect(point.ellipse.semiMinor).toBeCloseToNested(radius * Math.sqrt(minor), { rel: 1e-4 });
    const angle = (0.5 * Math.atan2(2 * 2.5, 9 - 4) * 180) / Math.PI;
    expect(point.ellipse.angle).toBeCloseToNested(angle, { abs: 1e-6 });
    expect(point.rmse).toBeCloseToNested(Math.sqrt(13), { rel: 1e-4 });
    assert.deepEqual(point.observations, [{ weight: 1, mahalanobis: 0, outlier: false }]);
    assert.equal(point.converged, true);
    assert.equal('sensitivities' in point, false, 'sensitivities only when asked');
  });

  test('three identical 3-D observations are one Huber with 3Λ and δ√3: covariance shrinks by κ(√3)/(3κ(1)), no ellipse', async () => {
    const covariance = [
      [4, 1, 0.5],
      [1, 3, -0.2],
      [0.5, -0.2, 2],
    ];
    const observation = { mean: [1, -2, 3], covariance };
    const response = await fuse({ delta: 1, level: 0.9, points: [{ observations: [observation, observation, observation] }] });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    const deltaPrime = Math.sqrt(3);
    const shrink = referenceKappa(3, deltaPrime) / (3 * referenceKappa(3, 1));
    expect(point.mean).toBeCloseToNested([1, -2, 3], { abs: 1e-6 });
    expect(point.covariance).toBeCloseToNested(
      covariance.map((row) => row.map((value) => value * shrink)),
      { rel: 1e-3, abs: 1e-6 },
    );
    expect(point.region.radius).toBeCloseToNested(
      referenceQuantile(3, deltaPrime, 0.9) / Math.sqrt(referenceKappa(3, deltaPrime)),
      {
        rel: 1e-3,
      },
    );
    assert.equal(point.ellipse, undefined);
    assert.equal(point.observations.length, 3);
  });

  test('two disagreeing 2-D observations: posterior mean, covariance and region mass match independent quadrature', async () => {
    const delta = 1;
    const observations = [
      {
        mean: [10, 20],
        covariance: [
          [4, 1],
          [1, 2],
        ],
      },
      {
        mean: [16, 17],
        covariance: [
          [3, -0.5],
          [-0.5, 5],
        ],
      },
    ];
    const response = await fuse({ delta, level: 0.5, points: [{ observations }] });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    const factors = observations.map(({ mean, covariance }) => ({ mean, precision: precisionOf(covariance, delta) }));
    const reference = referenceMoments(factors, delta, [13, 18.5], [30, 30], 1e-8);
    // Tolerances in units of the posterior's own spread: the service integrates with a fixed rule whose
    // error is about 1e-4 of the posterior's width, which is what the mean of a location can mean.
    const width = Math.sqrt(Math.max(reference.covariance[0]!, reference.covariance[3]!));
    expect(point.mean).toBeCloseToNested(reference.mean, { abs: 1e-3 * width });
    expect(flat(point.covariance)).toBeCloseToNested(reference.covariance, { rel: 1e-3, abs: 1e-3 * width * width });
    const mass = regionMass(factors, delta, reference.mean, point.covariance, point.region.radius);
    expect(mass).toBeCloseToNested(0.5, { abs: 2e-4 });
    // The ML point is not the mean here: check it is the minimum of the summed loss against its neighbours.
    assert.notEqual(point.mode, null);
    const cost = (y: number[]) => referenceCost(factors, y, delta);
    for (const [dx, dy] of [
      [1e-3, 0],
      [-1e-3, 0],
      [0, 1e-3],
      [0, -1e-3],
    ]) {
      assert.ok(cost(point.mode) <= cost([point.mode[0] + dx!, point.mode[1] + dy!]), 'mode is a local minimum');
    }
    // Each observation's diagnostics are at the posterior mean, in its own A-space.
    point.observations.forEach((diagnostic: { weight: number; mahalanobis: number; outlier: boolean }, i: number) => {
      const { mean, precision } = factors[i]!;
      const e = [point.mean[0] - mean[0]!, point.mean[1] - mean[1]!];
      const r = Math.sqrt(precision[0]! * e[0]! ** 2 + 2 * precision[1]! * e[0]! * e[1]! + precision[3]! * e[1]! ** 2);
      expect(diagnostic.mahalanobis).toBeCloseToNested(r, { rel: 1e-6 });
      expect(diagnostic.weight).toBeCloseToNested(Math.min(1, delta / r), { rel: 1e-6 });
      assert.equal(diagnostic.outlier, r > referenceQuantile(2, delta, 0.99));
    });
  });

  test('equal observations more than 2δ apart in A-space have a segment of ML points: mode is null, the mean is the midpoint', async () => {
    const covariance = [
      [2, 0],
      [0, 2],
    ];
    // A = √(κ/2)·I, so 6 px apart is 6·√(κ/2) ≈ 7.4 > 2 in A-space.
    const response = await fuse({
      sensitivities: true,
      points: [
        {
          observations: [
            { mean: [0, 0], covariance },
            { mean: [6, 0], covariance },
          ],
        },
      ],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    assert.equal(point.mode, null);
    assert.equal(point.sensitivities, null);
    // Exactly the midpoint by symmetry; the service's quadrature is accurate to about 1e-5 of the posterior's width (≈ 2 px).
    expect(point.mean).toBeCloseToNested([3, 0], { abs: 1e-4 });
  });

  test('sensitivities sum to the identity and match central differences of the mode through the endpoint', async () => {
    const observations = [
      {
        mean: [0, 0],
        covariance: [
          [2, 0.3],
          [0.3, 1],
        ],
      },
      {
        mean: [1.5, 0.5],
        covariance: [
          [1, -0.2],
          [-0.2, 1.5],
        ],
      },
      {
        mean: [0.4, 2.2],
        covariance: [
          [3, 0],
          [0, 0.5],
        ],
      },
    ];
    const response = await fuse({ sensitivities: true, points: [{ observations }] });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const { sensitivities, mode } = response.body.points[0];
    assert.equal(sensitivities.length, 3);
    const sum = [0, 1].map((r) => [0, 1].map((c) => sensitivities.reduce((acc: number, s: Matrix) => acc + s[r]![c]!, 0)));
    expect(sum).toBeCloseToNested(
      [
        [1, 0],
        [0, 1],
      ],
      { abs: 1e-8 },
    );
    const step = 1e-4;
    for (const column of [0, 1]) {
      const shifted = (sign: number) =>
        observations.map((observation, i) =>
          i === 1
            ? { ...observation, mean: observation.mean.map((value, k) => (k === column ? value + sign * step : value)) }
            : observation,
        );
      const [plus, minus] = await Promise.all([
        fuse({ points: [{ observations: shifted(1) }] }),
        fuse({ points: [{ observations: shifted(-1) }] }),
      ]);
      const derivative = [0, 1].map((r) => (plus.body.points[0].mode[r] - minus.body.points[0].mode[r]) / (2 * step));
      expect(derivative).toBeCloseToNested([sensitivities[1][0][column], sensitivities[1][1][column]], { rel: 1e-4, abs: 1e-6 });
    }
    assert.ok(mode !== null);
  });

  test('several points in one request are fused independently and keep their order and names', async () => {
    const covariance = [
      [1, 0],
      [0, 1],
    ];
    const response = await fuse({
      points: [
        { name: 'a', observations: [{ mean: [1, 1], covariance }] },
        {
          observations: [
            {
              mean: [5, 5, 5],
              covariance: [
                [1, 0, 0],
                [0, 1, 0],
                [0, 0, 1],
              ],
            },
          ],
        },
        { name: 'c', observations: [{ mean: [-3, 2], covariance }] },
      ],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(
      response.body.points.map((point: { name?: string; mean: number[] }) => [point.name, point.mean.length]),
      [
        ['a', 2],
        [undefined, 3],
        ['c', 2],
      ],
    );
    expect(response.body.points[2].mean).toBeCloseToNested([-3, 2], { abs: 1e-9 });
  });

  const identity = [
    [1, 0],
    [0, 1],
  ];
  const refusals: Array<{ label: string; body: unknown; status: number; path: string; detail: RegExp }> = [
    {
      label: 'a non-symmetric covariance',
      body: {
        points: [
          {
            observations: [
              { mean: [0, 0], covariance: identity },
              {
                mean: [1, 0],
                covariance: [
                  [2, 0.5],
                  [0.1, 2],
                ],
              },
            ],
          },
        ],
      },
      status: 422,
      path: 'points[0].observations[1].covariance',
      detail: /symmetric/,
    },
    {
      label: 'a singular covariance',
      body: {
        points: [
          {
            observations: [
              {
                mean: [0, 0],
                covariance: [
                  [1, 1],
                  [1, 1],
                ],
              },
            ],
          },
        ],
      },
      status: 422,
      path: 'points[0].observations[0].covariance',
      detail: /singular|positive definite/,
    },
    {
      label: 'a covariance that is not positive definite',
      body: {
        points: [
          {
            observations: [
              { mean: [0, 0], covariance: identity },
              {
                mean: [0, 0],
                covariance: [
                  [1, 2],
                  [2, 1],
                ],
              },
            ],
          },
        ],
      },
      status: 422,
      path: 'points[0].observations[1].covariance',
      detail: /positive definite/,
    },
    {
      label: '2-D and 3-D observations of one point',
      body: {
        points: [
          {
            observations: [
              { mean: [0, 0], covariance: identity },
              {
                mean: [0, 0, 0],
                covariance: [
                  [1, 0, 0],
                  [0, 1, 0],
                  [0, 0, 1],
                ],
              },
            ],
          },
        ],
      },
      status: 422,
      path: 'points[0].observations[1].mean',
      detail: /3 coordinates but points\[0\]\.observations\[0\]\.mean has 2/,
    },
    {
      label: 'a 3-D mean with a 2×2 covariance',
      body: { points: [{ observations: [{ mean: [0, 0, 0], covariance: identity }] }] },
      status: 422,
      path: 'points[0].observations[0].covariance',
      detail: /must be 3×3/,
    },
    {
      label: 'more points than MAX_FUSION_POINTS',
      body: { points: Array.from({ length: 5 }, () => ({ observations: [{ mean: [0, 0], covariance: identity }] })) },
      status: 422,
      path: 'points',
      detail: /5 points sent, more than the limit of 4/,
    },
    {
      label: 'more observations than MAX_OBSERVATIONS_PER_POINT',
      body: { points: [{ observations: Array.from({ length: 6 }, () => ({ mean: [0, 0], covariance: identity })) }] },
      status: 422,
      path: 'points[0].observations',
      detail: /points\[0\]\.observations has 6 entries, more than the limit of 5/,
    },
  ];
  for (const { label, body, status, path, detail } of refusals) {
    test(`refuses ${label} with ${status}, naming ${path}`, async () => {
      const response = await fuse(body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal(response.body.path, path);
      assert.ok(response.body.detail.includes(path), `detail names ${path}: ${response.body.detail}`);
      assert.match(response.body.detail, detail);
    });
  }

  const malformed: Array<{ label: string; raw: string; path: string }> = [
    {
      label: 'a number beyond double range (parses to Infinity)',
      raw: '{"points":[{"observations":[{"mean":[1e999,0],"covariance":[[1,0],[0,1]]}]}]}',
      path: '/points/0/observations/0/mean/0',
    },
    {
      label: 'a number sent as a string (no coercion)',
      raw: '{"points":[{"observations":[{"mean":["1.5",0],"covariance":[[1,0],[0,1]]}]}]}',
      path: '/points/0/observations/0/mean/0',
    },
    { label: 'a point without observations', raw: '{"points":[{"observations":[]}]}', path: '/points/0/observations' },
    {
      label: 'a 4-D mean',
      raw: '{"points":[{"observations":[{"mean":[0,0,0,0],"covariance":[[1,0],[0,1]]}]}]}',
      path: '/points/0/observations/0/mean',
    },
    {
      label: 'a level of 1',
      raw: '{"level":1,"points":[{"observations":[{"mean":[0,0],"covariance":[[1,0],[0,1]]}]}]}',
      path: '/level',
    },
    {
      label: 'δ = 0',
      raw: '{"delta":0,"points":[{"observations":[{"mean":[0,0],"covariance":[[1,0],[0,1]]}]}]}',
      path: '/delta',
    },
    {
      label: 'an unknown member',
      raw: '{"points":[{"observations":[{"mean":[0,0],"covariance":[[1,0],[0,1]],"weight":2}]}]}',
      path: '/points/0/observations/0',
    },
  ];
  for (const { label, raw, path } of malformed) {
    test(`answers ${label} with a 400 validation problem at ${path}`, async () => {
      const response = await request(service.url).post('/v1/fuse').set('content-type', 'application/json').send(raw);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.ok(
        response.body.errors.some((error: { path: string }) => error.path === path),
        `an error at ${path}: ${JSON.stringify(response.body.errors)}`,
      );
    });
  }

  test('counts fused points, iterations and outliers in /metrics under endpoint="fuse"', async () => {
    const read = async () => (await request(service.url).get('/metrics')).text;
    const count = (text: string, name: string) =>
      Number(new RegExp(`^${name}\\{endpoint="fuse",model=""\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await read();
    const covariance = [
      [1, 0],
      [0, 1],
    ];
    const response = await fuse({
      points: [
        {
          observations: [
            { mean: [0, 0], covariance },
            { mean: [0.1, 0], covariance },
            { mean: [0, 0.1], covariance },
            { mean: [80, 0], covariance },
          ],
        },
        { observations: [{ mean: [0, 0], covariance }] },
      ],
    });
    assert.equal(response.status, 200);
    assert.deepEqual(
      response.body.points[0].observations.map((o: { outlier: boolean }) => o.outlier),
      [false, false, false, true],
    );
    const after = await read();
    assert.equal(count(after, 'huber_evidence_points_total') - count(before, 'huber_evidence_points_total'), 2);
    assert.equal(count(after, 'huber_evidence_outliers_total') - count(before, 'huber_evidence_outliers_total'), 1);
    assert.equal(
      count(after, 'huber_evidence_solver_iterations_count') - count(before, 'huber_evidence_solver_iterations_count'),
      2,
    );
    assert.equal(
      count(after, 'huber_evidence_duration_seconds_count') - count(before, 'huber_evidence_duration_seconds_count'),
      1,
    );
  });

  test('the wild observation of the metrics test is an outlier by the 99 % rule of the reference radial distribution', () => {
    // Independent check of the expectation above: at the posterior mean ≈ (0.03, 0.03), the observation at
    // (80, 0) is ≈ 80·√κ ≈ 140 in A-space, far beyond r_0.99(2, 1).
    assert.ok(80 * Math.sqrt(referenceKappa(2, 1)) > referenceQuantile(2, 1, 0.99) * 10);
    assert.ok(referenceLoss(140, 1) > 100);
  });
});

describe('POST /v1/fuse behind AUTH_TOKEN', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], env: { AUTH_TOKEN: 'secret-token' } });
  });
  afterAll(async () => service.close());

  const body = {
    points: [
      {
        observations: [
          {
            mean: [0, 0],
            covariance: [
              [1, 0],
              [0, 1],
            ],
          },
        ],
      },
    ],
  };

  test('needs the bearer token like the other /v1 routes', async () => {
    const refused = await request(service.url).post('/v1/fuse').send(body);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer');
    const accepted = await request(service.url).post('/v1/fuse').set('authorization', 'Bearer secret-token').send(body);
    assert.equal(accepted.status, 200);
  });
});
