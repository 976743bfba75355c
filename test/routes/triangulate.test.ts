import { readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceKappa } from '../helpers/huber-reference.js';
import { linearizedPosteriorMoments } from '../helpers/multiview-posterior.js';
import {
  ARC_RIG,
  ARC_RIG_SCALE,
  calibrationToml,
  cameraFrame,
  lookAtCamera,
  projectionJacobian,
  projectPoint,
  rodriguesMatrix,
  type SceneCamera,
  type Vec3,
} from '../helpers/multiview-scene.js';
import { createRng } from '../helpers/prng.js';
import { startService, type RunningService } from '../helpers/service.js';

const RIG = ARC_RIG;
const RIG_SCALE = ARC_RIG_SCALE;

const COVARIANCES: number[][][] = [
  [
    [2.2, 0.4],
    [0.4, 1.3],
  ],
  [
    [1.5, -0.3],
    [-0.3, 2.5],
  ],
  [
    [3, 0],
    [0, 1],
  ],
  [
    [1.8, 0.6],
    [0.6, 1.6],
  ],
];

const jsonCamera = (camera: SceneCamera) => ({
  name: camera.name,
  matrix: camera.matrix,
  rotation: camera.rotation,
  translation: camera.translation,
  distortions: camera.distortions,
  size: camera.size,
});

function observationsOf(point: Vec3, offsets: number[][] = RIG.map(() => [0, 0])) {
  return RIG.map((camera, c) => {
    const [x, y] = projectPoint(camera, point);
    return { camera: camera.name, mean: [x + offsets[c]![0]!, y + offsets[c]![1]!], covariance: COVARIANCES[c]! };
  });
}

/** Every camera sees `point` with `partner` as its flip alternative (prior 0.05); `swapped` cameras see them the other way round. */
function withFlipPartner(point: Vec3, partner: Vec3, swapped: readonly number[] = []) {
  return RIG.map((camera, c) => {
    const [own, other] = swapped.includes(c) ? [partner, point] : [point, partner];
    return {
      camera: camera.name,
      mean: projectPoint(camera, own),
      covariance: COVARIANCES[c],
      alternatives: [{ mean: projectPoint(camera, other), covariance: COVARIANCES[c], prior: 0.05 }],
    };
  });
}

function inverse2(m: number[][]): number[][] {
  const det = m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!;
  return [
    [m[1]![1]! / det, -m[0]![1]! / det],
    [-m[1]![0]! / det, m[0]![0]! / det],
  ];
}

/** 3×4 P = K [R | t] of a camera without distortion. */
function projectionMatrix(camera: SceneCamera): number[][] {
  const r = rodriguesMatrix(camera.rotation);
  const rt = r.map((row, i) => [...row, camera.translation[i]!]);
  return camera.matrix.map((kRow) =>
    [0, 1, 2, 3].map((j) => kRow[0]! * rt[0]![j]! + kRow[1]! * rt[1]![j]! + kRow[2]! * rt[2]![j]!),
  );
}

describe('POST /v1/triangulate', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], env: { MAX_CAMERAS: '5', MAX_FUSION_POINTS: '8' } });
  });
  afterAll(async () => service.close());

  const triangulate = (body: unknown) =>
    request(service.url)
      .post('/v1/triangulate')
      .send(body as object);

  test('exact projections through distorted cameras give back the point, and reprojections match an independent OpenCV model', async () => {
    const truth: Vec3 = [0.12, -0.05, 0.08];
    const response = await triangulate({
      cameras: RIG.map(jsonCamera),
      points: [{ name: 'wrist', observations: observationsOf(truth) }],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    assert.equal(point.name, 'wrist');
    expect(point.position).toBeCloseToNested(truth, { abs: 1e-6 * RIG_SCALE });
    expect(point.mode).toBeCloseToNested(truth, { abs: 1e-7 * RIG_SCALE });
    assert.equal(point.converged, true);
    point.cameras.forEach(
      (diagnostic: { camera: string; reprojection: number[]; reprojectionError: number; component: number }, c: number) => {
        assert.equal(diagnostic.camera, RIG[c]!.name);
        // 1e-3 px is what the position's own tolerance (1e-6 of 2 m at f ≈ 700 px) allows.
        expect(diagnostic.reprojection).toBeCloseToNested(projectPoint(RIG[c]!, truth), { abs: 1e-3 });
        expect(diagnostic.reprojectionError).toBeCloseToNested(0, { abs: 1e-3 });
        assert.equal(diagnostic.component, 0);
      },
    );
    expect(point.rmse).toBeCloseToNested(Math.sqrt(point.covariance[0][0] + point.covariance[1][1] + point.covariance[2][2]), {
      rel: 1e-12,
    });
  });

  test('the covariance is the linearized posterior’s, by independent 3-D quadrature, and lies between Laplace and κ-scaled propagation', async () => {
    const delta = 1;
    const rng = createRng(10);
    const truth: Vec3 = [-0.07, 0.1, 0.03];
    // Offsets of about a pixel, so the evidence disagrees a little as real detections do.
    const offsets = RIG.map(() => [rng.normal(), rng.normal()]);
    const response = await triangulate({
      delta,
      level: 0.9,
      cameras: RIG.map(jsonCamera),
      points: [{ observations: observationsOf(truth, offsets) }],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [point] = response.body.points;
    const observed = observationsOf(truth, offsets);
    const kappa = referenceKappa(2, delta);
    const factors = RIG.map((camera, c) => {
      const projected = projectPoint(camera, point.position);
      return {
        jacobian: projectionJacobian(camera, point.position),
        residual: [projected[0] - observed[c]!.mean[0]!, projected[1] - observed[c]!.mean[1]!] as [number, number],
        precision: inverse2(COVARIANCES[c]!).map((row) => row.map((value) => kappa * value)),
      };
    });
    const reference = linearizedPosteriorMoments(factors, delta);
    // `position` is the fixed point: the linearized posterior about it has its mean there.
    const spread = Math.sqrt(Math.max(...reference.covariance.map((row, i) => row[i]!)));
    expect(reference.mean).toBeCloseToNested([0, 0, 0], { abs: 2e-3 * spread });
    expect(point.covariance).toBeCloseToNested(reference.covariance, { rel: 0.01, abs: 0.01 * spread * spread });
  });

  test('the same rig as calibration.toml text, as 3×3 rotation matrices, and as projection matrices gives the same point', async () => {
    const truth: Vec3 = [0.02, 0.03, -0.1];
    const points = [{ observations: observationsOf(truth) }];
    const asJson = await triangulate({ cameras: RIG.map(jsonCamera), points });
    const asToml = await triangulate({ calibration: calibrationToml(RIG), points });
    const asMatrices = await triangulate({
      cameras: RIG.map((camera) => ({ ...jsonCamera(camera), rotation: rodriguesMatrix(camera.rotation) })),
      points,
    });
    for (const response of [asJson, asToml, asMatrices]) assert.equal(response.status, 200, JSON.stringify(response.body));
    expect(asToml.body.points[0].position).toBeCloseToNested(asJson.body.points[0].position, { rel: 1e-9, abs: 1e-12 });
    expect(asMatrices.body.points[0].position).toBeCloseToNested(asJson.body.points[0].position, { rel: 1e-9, abs: 1e-12 });

    const pinhole = RIG.map((camera) => ({ ...camera, distortions: [0, 0, 0, 0, 0] as SceneCamera['distortions'] }));
    const pinholeObservations = pinhole.map((camera, c) => ({
      camera: camera.name,
      mean: projectPoint(camera, truth),
      covariance: COVARIANCES[c],
    }));
    const asProjections = await triangulate({
      cameras: pinhole.map((camera) => ({ name: camera.name, projection: projectionMatrix(camera) })),
      points: [{ observations: pinholeObservations }],
    });
    assert.equal(asProjections.status, 200, JSON.stringify(asProjections.body));
    expect(asProjections.body.points[0].position).toBeCloseToNested(truth, { abs: 1e-6 * RIG_SCALE });
  });

  test('a camera that swapped left and right: with the partner as alternative it takes component 1 and the point is unharmed; without, it is an outlier', async () => {
    const left: Vec3 = [-0.15, 0.02, 0.05];
    const right: Vec3 = [0.15, -0.03, -0.04];
    const swapped = 2;
    const observe = (withAlternatives: boolean) =>
      RIG.map((camera, c) => {
        const own = projectPoint(camera, c === swapped ? right : left);
        const partner = projectPoint(camera, c === swapped ? left : right);
        return {
          camera: camera.name,
          mean: own,
          covariance: COVARIANCES[c],
          ...(withAlternatives ? { alternatives: [{ mean: partner, covariance: COVARIANCES[c], prior: 0.05 }] } : {}),
        };
      });
    const withSwap = await triangulate({
      cameras: RIG.map(jsonCamera),
      points: [{ name: 'left_wrist', observations: observe(true) }],
    });
    assert.equal(withSwap.status, 200, JSON.stringify(withSwap.body));
    const resolved = withSwap.body.points[0];
    expect(resolved.position).toBeCloseToNested(left, { abs: 1e-3 * RIG_SCALE });
    assert.deepEqual(
      resolved.cameras.map((camera: { component: number }) => camera.component),
      [0, 0, 1, 0],
    );
    assert.equal(resolved.cameras[swapped].outlier, false);

    const withoutSwap = await triangulate({ cameras: RIG.map(jsonCamera), points: [{ observations: observe(false) }] });
    assert.equal(withoutSwap.status, 200, JSON.stringify(withoutSwap.body));
    const flagged = withoutSwap.body.points[0];
    assert.deepEqual(
      flagged.cameras.map((camera: { outlier: boolean }) => camera.outlier),
      [false, false, true, false],
    );
    assert.ok(flagged.cameras[swapped].weight < 0.1, `weight ${flagged.cameras[swapped].weight}`);
  });

  test('sensitivities are 3×2 per camera and match central differences of the mode through the endpoint', async () => {
    const truth: Vec3 = [0.05, 0.05, 0.05];
    const rng = createRng(3);
    const offsets = RIG.map(() => [0.3 * rng.normal(), 0.3 * rng.normal()]);
    const observations = observationsOf(truth, offsets);
    const response = await triangulate({ sensitivities: true, cameras: RIG.map(jsonCamera), points: [{ observations }] });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const { sensitivities } = response.body.points[0];
    assert.equal(sensitivities.length, 4);
    for (const matrix of sensitivities) assert.deepEqual([matrix.length, matrix[0].length], [3, 2]);
    const camera = 1;
    const step = 1e-3;
    for (const column of [0, 1]) {
      const shifted = (sign: number) =>
        observations.map((observation, c) =>
          c === camera
            ? { ...observation, mean: observation.mean.map((value, k) => (k === column ? value + sign * step : value)) }
            : observation,
        );
      const [plus, minus] = await Promise.all(
        [1, -1].map((sign) => triangulate({ cameras: RIG.map(jsonCamera), points: [{ observations: shifted(sign) }] })),
      );
      const derivative = [0, 1, 2].map((r) => (plus!.body.points[0].mode[r] - minus!.body.points[0].mode[r]) / (2 * step));
      const expected = [0, 1, 2].map((r) => sensitivities[camera][r][column]);
      expect(derivative).toBeCloseToNested(expected, { rel: 1e-4, abs: 1e-4 * Math.max(...expected.map(Math.abs)) });
    }
  });

  test('counts triangulated points and resolved swaps in /metrics under endpoint="triangulate"', async () => {
    const read = async () => (await request(service.url).get('/metrics')).text;
    const count = (text: string, name: string) =>
      Number(new RegExp(`^${name}\\{endpoint="triangulate",model=""\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await read();
    const left: Vec3 = [-0.15, 0.02, 0.05];
    const right: Vec3 = [0.15, -0.03, -0.04];
    const observations = withFlipPartner(left, right, [0]);
    const response = await triangulate({
      cameras: RIG.map(jsonCamera),
      points: [{ observations }, { observations: observationsOf(left) }],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const after = await read();
    assert.equal(count(after, 'huber_evidence_points_total') - count(before, 'huber_evidence_points_total'), 2);
    assert.equal(count(after, 'huber_evidence_swaps_total') - count(before, 'huber_evidence_swaps_total'), 1);
    assert.equal(
      count(after, 'huber_evidence_duration_seconds_count') - count(before, 'huber_evidence_duration_seconds_count'),
      1,
    );
  });

  test('/metrics shows the runs on the evidence threads while a request is triangulated, none after', async () => {
    const pendingRuns = async () =>
      Number(/^huber_evidence_pending_runs (\S+)$/m.exec((await request(service.url).get('/metrics')).text)?.[1]);
    const left: Vec3 = [-0.15, 0.02, 0.05];
    const right: Vec3 = [0.15, -0.03, -0.04];
    const observations = withFlipPartner(left, right);
    // Four requests of MAX_FUSION_POINTS (8) points with a flip partner each at once: a hundred milliseconds
    // or more of work, cut into runs.
    let finished = false;
    const body = { cameras: RIG.map(jsonCamera), points: Array.from({ length: 8 }, () => ({ observations })) };
    const answers = Promise.all(Array.from({ length: 4 }, () => triangulate(body))).then((responses) => {
      finished = true;
      return responses;
    });
    let seen = 0;
    while (!finished) {
      seen = Math.max(seen, await pendingRuns());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(
      (await answers).map((response) => response.status),
      [200, 200, 200, 200],
    );
    assert.ok(seen >= 1, `pending runs seen while the request ran: ${seen}`);
    assert.equal(await pendingRuns(), 0);
  });

  const identity = [
    [1, 0],
    [0, 1],
  ];
  const twoCameras = RIG.slice(0, 2).map(jsonCamera);
  const seenBy = (...names: string[]) => names.map((camera) => ({ camera, mean: [320, 240], covariance: identity }));
  const refusals: Array<{ label: string; body: () => unknown; status: number; path?: string; detail: RegExp }> = [
    {
      label: 'an observation from a camera that is not in the rig',
      body: () => ({ cameras: twoCameras, points: [{ observations: seenBy('north', 'attic') }] }),
      status: 422,
      path: 'points[0].observations[1].camera',
      detail: /"attic" is not one of the cameras \(north, east\)/,
    },
    {
      label: 'two observations from one camera',
      body: () => ({ cameras: twoCameras, points: [{ observations: seenBy('north', 'north') }] }),
      status: 422,
      path: 'points[0].observations[1].camera',
      detail: /twice/,
    },
    {
      label: 'a point seen by one camera',
      body: () => ({
        cameras: twoCameras,
        points: [{ observations: seenBy('north') }, { name: 'elbow', observations: seenBy('east') }],
      }),
      status: 422,
      path: 'points[0]',
      detail: /seen by 1 camera; triangulation needs at least two/,
    },
    {
      label: 'a covariance that is not positive definite',
      body: () => ({
        cameras: twoCameras,
        points: [
          {
            observations: [
              { camera: 'north', mean: [320, 240], covariance: identity },
              {
                camera: 'east',
                mean: [300, 250],
                covariance: [
                  [1, 3],
                  [3, 1],
                ],
              },
            ],
          },
        ],
      }),
      status: 422,
      path: 'points[0].observations[1].covariance',
      detail: /positive definite/,
    },
    {
      label: 'alternatives whose priors sum to 1',
      body: () => ({
        cameras: twoCameras,
        points: [
          {
            observations: [
              {
                camera: 'north',
                mean: [320, 240],
                covariance: identity,
                alternatives: [
                  { mean: [330, 240], covariance: identity, prior: 0.6 },
                  { mean: [310, 240], covariance: identity, prior: 0.4 },
                ],
              },
              { camera: 'east', mean: [300, 250], covariance: identity },
            ],
          },
        ],
      }),
      status: 422,
      path: 'points[0].observations[0].alternatives',
      detail: /priors sum to 1/,
    },
    {
      label: 'two cameras with one name',
      body: () => ({ cameras: [jsonCamera(RIG[0]!), jsonCamera(RIG[0]!)], points: [{ observations: seenBy('north', 'east') }] }),
      status: 422,
      path: 'cameras[1].name',
      detail: /used by an earlier camera/,
    },
    {
      label: 'more cameras than MAX_CAMERAS',
      body: () => ({
        cameras: [...RIG, RIG[0]!, RIG[1]!].map((camera, i) => ({ ...jsonCamera(camera), name: `c${i}` })),
        points: [{ observations: seenBy('c0', 'c1') }],
      }),
      status: 422,
      path: 'cameras',
      detail: /cameras: 6 cameras sent, more than the limit of 5/,
    },
    {
      label: 'a fisheye camera',
      body: () => ({
        cameras: [{ ...jsonCamera(RIG[0]!), fisheye: true }, jsonCamera(RIG[1]!)],
        points: [{ observations: seenBy('north', 'east') }],
      }),
      status: 422,
      path: 'cameras[0].fisheye',
      detail: /fisheye cameras are not supported/,
    },
    {
      label: 'a calibration.toml with fisheye = true, naming its line',
      body: () => ({
        calibration: calibrationToml(RIG.slice(0, 2)).replace('[cam_1]\n', '[cam_1]\nfisheye = true\n'),
        points: [{ observations: seenBy('north', 'east') }],
      }),
      status: 422,
      path: 'cam_1.fisheye',
      detail: /calibration line 10, key "cam_1\.fisheye": fisheye cameras are not supported/,
    },
    {
      label: 'calibration text that is not TOML, naming its line and key',
      body: () => ({
        calibration: calibrationToml(RIG.slice(0, 2)).replace('translation = [', 'translation = [ x,'),
        points: [{ observations: seenBy('north', 'east') }],
      }),
      status: 400,
      path: 'cam_0.translation',
      detail: /line 7, column \d+, key "cam_0\.translation"/,
    },
    {
      label: 'both cameras and calibration',
      body: () => ({
        cameras: twoCameras,
        calibration: calibrationToml(RIG.slice(0, 2)),
        points: [{ observations: seenBy('north', 'east') }],
      }),
      status: 400,
      detail: /either as `cameras` or as `calibration`, not both/,
    },
    {
      label: 'neither cameras nor calibration',
      body: () => ({ points: [{ observations: seenBy('north', 'east') }] }),
      status: 400,
      detail: /needs its cameras/,
    },
    {
      label: 'more points than MAX_FUSION_POINTS',
      body: () => ({ cameras: twoCameras, points: Array.from({ length: 9 }, () => ({ observations: seenBy('north', 'east') })) }),
      status: 422,
      path: 'points',
      detail: /9 points sent, more than the limit of 8/,
    },
  ];
  for (const { label, body, status, path, detail } of refusals) {
    test(`refuses ${label} with ${status}`, async () => {
      const response = await triangulate(body());
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.match(response.body.detail, detail);
      if (path !== undefined) assert.equal(response.body.path, path);
    });
  }

  test('a point whose rays meet behind the cameras is 422 naming the point, not a guess', async () => {
    // Two cameras side by side looking along −z; rays that diverge in front of them meet only behind.
    const a = lookAtCamera('a', [-0.5, 0, 2], [-0.5, 0, 0], { focal: 600, size: [640, 480] });
    const b = lookAtCamera('b', [0.5, 0, 2], [0.5, 0, 0], { focal: 600, size: [640, 480] });
    const behind: Vec3 = [0, 0, 3];
    assert.ok(cameraFrame(a, behind)[2] < 0 && cameraFrame(b, behind)[2] < 0, 'test setup: the point is behind both cameras');
    const response = await triangulate({
      cameras: [a, b].map(jsonCamera),
      points: [
        {
          name: 'ghost',
          observations: [a, b].map((camera) => ({
            camera: camera.name,
            mean: projectPoint(camera, behind),
            covariance: identity,
          })),
        },
      ],
    });
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.match(response.body.detail, /points\[0\]/);
    assert.match(response.body.detail, /behind/);
  });

  const malformed: Array<{ label: string; raw: string; path: string }> = [
    {
      label: 'a 3-vector where a pixel belongs',
      raw: JSON.stringify({
        cameras: twoCameras,
        points: [{ observations: [{ camera: 'north', mean: [1, 2, 3], covariance: identity }] }],
      }),
      path: '/points/0/observations/0/mean',
    },
    {
      label: 'a prior sent as a string',
      raw: JSON.stringify({
        cameras: twoCameras,
        points: [
          {
            observations: [
              {
                camera: 'north',
                mean: [1, 2],
                covariance: identity,
                alternatives: [{ mean: [1, 2], covariance: identity, prior: '0.1' }],
              },
            ],
          },
        ],
      }),
      path: '/points/0/observations/0/alternatives/0/prior',
    },
    {
      label: 'a translation with an infinite entry',
      raw: JSON.stringify({ cameras: twoCameras, points: [{ observations: seenBy('north', 'east') }] }).replace(
        JSON.stringify(twoCameras[0]!.translation),
        `[1e999, 0, 0]`,
      ),
      path: '/cameras/0/translation/0',
    },
  ];
  for (const { label, raw, path } of malformed) {
    test(`answers ${label} with a 400 naming ${path}`, async () => {
      const response = await request(service.url).post('/v1/triangulate').set('content-type', 'application/json').send(raw);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.ok(
        response.body.errors.some((error: { path: string }) => error.path.startsWith(path) || path.startsWith(error.path)),
        `an error at ${path}: ${JSON.stringify(response.body.errors)}`,
      );
    });
  }
});

describe('closing the app while points are triangulated', () => {
  test(
    'every request in flight is answered in full, then the evidence threads stop',
    { skip: process.platform !== 'linux' },
    async () => {
      const service = await startService({ models: [] });
      try {
        const left: Vec3 = [-0.15, 0.02, 0.05];
        const right: Vec3 = [0.15, -0.03, -0.04];
        const observations = withFlipPartner(left, right);
        const body = { cameras: RIG.map(jsonCamera), points: Array.from({ length: 48 }, () => ({ observations })) };
        const threadsBefore = readdirSync('/proc/self/task').length;
        const answers = Array.from({ length: 3 }, () =>
          request(service.url)
            .post('/v1/triangulate')
            .send(body)
            .then((response) => response),
        );
        // Close once the math is under way: the threads exist and runs are out.
        while (!/^huber_evidence_pending_runs [1-9]/m.test((await request(service.url).get('/metrics')).text)) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await service.app.close();
        for (const response of await Promise.all(answers)) {
          assert.equal(response.status, 200, JSON.stringify(response.body));
          assert.equal(response.body.points.length, 48);
        }
        assert.ok(readdirSync('/proc/self/task').length <= threadsBefore, 'the evidence threads are gone');
      } finally {
        await service.close();
      }
    },
  );
});
