import assert from 'node:assert/strict';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DOTS_A } from '../helpers/fixture-models.js';
import { referenceKappa } from '../helpers/huber-reference.js';
import { gaussNewtonMatrix, linearizedPosteriorMoments, type LinearizedFactor } from '../helpers/multiview-posterior.js';
import {
  ARC_RIG,
  ARC_RIG_SCALE,
  boxAround,
  calibrationToml,
  lookAtCamera,
  projectionJacobian,
  projectPoint,
  renderDots,
  type Box,
  type SceneCamera,
  type Vec3,
} from '../helpers/multiview-scene.js';
import { startService, type RunningService } from '../helpers/service.js';

/**
 * The scene: two bright dots 0.3 m apart seen by four cameras about 2 m away (two with lens distortion).
 * The `dots` fixture model reports the intensity centroid of the left and of the right half of each
 * camera's crop as `left_dot` and `right_dot`, so every camera finds the 3-D dots' projections; a fifth
 * camera behind the scene sees them mirrored, which is exactly a left/right swap.
 */
const LEFT: Vec3 = [-0.15, 0.02, 0.05];
const RIGHT: Vec3 = [0.15, -0.03, -0.04];
const RIG = ARC_RIG;
const BEHIND = lookAtCamera('behind', [0.3, 0.2, -1.96], [0, 0, 0], { focal: 700, size: [640, 480] });
const RIG_SCALE = ARC_RIG_SCALE;
const DOTS_INPUT_SIZE = 64;

interface View {
  camera: SceneCamera;
  png: Buffer;
  box: Box;
  /** The crop side L (docs/spec.md §3: the box diagonal at crop.scale 1). */
  cropSide: number;
}

async function view(camera: SceneCamera): Promise<View> {
  const projections = [projectPoint(camera, LEFT), projectPoint(camera, RIGHT)];
  const span = Math.abs(projections[0]![0] - projections[1]![0]);
  const box = boxAround(projections, span / 2);
  const cropSide = Math.hypot(box.width, box.height);
  // As the predict tests draw them: about 1.5 input pixels wide once the crop is sampled to 64².
  const sigma = (1.5 * cropSide) / DOTS_INPUT_SIZE;
  for (const [x, y] of projections) {
    assert.ok(
      x > 4 * sigma && y > 4 * sigma && x < camera.size[0] - 4 * sigma && y < camera.size[1] - 4 * sigma,
      `test setup: dot inside ${camera.name}`,
    );
    assert.ok(Math.abs(x - (box.x + box.width / 2)) > 4 * sigma, `test setup: dot in its own half in ${camera.name}`);
  }
  return { camera, png: await renderDots(camera, [LEFT, RIGHT], sigma), box, cropSide };
}

function inverse2(m: number[][]): number[][] {
  const det = m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!;
  return [
    [m[1]![1]! / det, -m[0]![1]! / det],
    [-m[1]![0]! / det, m[0]![0]! / det],
  ];
}

/** Eigenvalues of a symmetric 3×3 matrix, by the trigonometric closed form. */
function eigenvalues3(m: number[][]): number[] {
  const p1 = m[0]![1]! ** 2 + m[0]![2]! ** 2 + m[1]![2]! ** 2;
  const q = (m[0]![0]! + m[1]![1]! + m[2]![2]!) / 3;
  const p2 = (m[0]![0]! - q) ** 2 + (m[1]![1]! - q) ** 2 + (m[2]![2]! - q) ** 2 + 2 * p1;
  const p = Math.sqrt(p2 / 6);
  const b = m.map((row, i) => row.map((value, j) => (value - (i === j ? q : 0)) / p));
  const det =
    b[0]![0]! * (b[1]![1]! * b[2]![2]! - b[1]![2]! * b[2]![1]!) -
    b[0]![1]! * (b[1]![0]! * b[2]![2]! - b[1]![2]! * b[2]![0]!) +
    b[0]![2]! * (b[1]![0]! * b[2]![1]! - b[1]![1]! * b[2]![0]!);
  const phi = Math.acos(Math.min(1, Math.max(-1, det / 2))) / 3;
  const largest = q + 2 * p * Math.cos(phi);
  const smallest = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  return [largest, 3 * q - largest - smallest, smallest];
}

/** Cholesky factor of a 3×3 SPD matrix, lower triangular. */
function cholesky3(m: number[][]): number[][] {
  const l = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = m[i]![j]!;
      for (let k = 0; k < j; k++) sum -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(sum) : sum / l[j]![j]!;
    }
  }
  return l;
}

/** Lᵀ S L for the Cholesky factor L of H: S measured in H's metric (the identity when S = H⁻¹). */
function inMetric(s: number[][], h: number[][]): number[][] {
  const l = cholesky3(h);
  return [0, 1, 2].map((a) =>
    [0, 1, 2].map((b) =>
      [0, 1, 2].reduce((sum, p) => sum + [0, 1, 2].reduce((inner, q) => inner + l[p]![a]! * s[p]![q]! * l[q]![b]!, 0), 0),
    ),
  );
}

function multiviewRequest(url: string, views: readonly View[], fields: Record<string, string> = {}) {
  let form = request(url)
    .post('/v1/models/dots/predict-multiview')
    .field('calibration', calibrationToml(views.map((v) => v.camera)))
    .field('boxes', JSON.stringify(Object.fromEntries(views.map((v) => [v.camera.name, v.box]))));
  for (const [name, value] of Object.entries(fields)) form = form.field(name, value);
  for (const v of views) form = form.attach(v.camera.name, v.png, { filename: `${v.camera.name}.png`, contentType: 'image/png' });
  return form;
}

describe('POST /v1/models/{model}/predict-multiview', () => {
  let service: RunningService;
  let views: View[];
  let behind: View;
  beforeAll(async () => {
    service = await startService({ models: ['dots'] });
    views = await Promise.all(RIG.map(view));
    behind = await view(BEHIND);
  });
  afterAll(async () => service.close());

  test('a rendered 4-camera scene: 2-D dots as predict finds them, 3-D dots within 0.5 % of the rig scale', async () => {
    const response = await multiviewRequest(service.url, views, { tta: 'false', level: '0.9' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const body = response.body;
    assert.equal(body.model.name, 'dots');
    assert.deepEqual(
      body.cameras.map((camera: { name: string }) => camera.name),
      RIG.map((camera) => camera.name),
    );
    body.cameras.forEach(
      (camera: { image: { width: number }; instance: { box: Box; keypoints: Array<{ x: number; y: number }> } }, c: number) => {
        assert.equal(camera.image.width, RIG[c]!.size[0]);
        const { x, y, width, height } = views[c]!.box;
        expect([
          camera.instance.box.x,
          camera.instance.box.y,
          camera.instance.box.width,
          camera.instance.box.height,
        ]).toBeCloseToNested([x, y, width, height], {
          rel: 1e-12,
        });
        const [left, right] = camera.instance.keypoints;
        expect([left!.x, left!.y]).toBeCloseToNested(projectPoint(RIG[c]!, LEFT), { abs: 0.5 });
        expect([right!.x, right!.y]).toBeCloseToNested(projectPoint(RIG[c]!, RIGHT), { abs: 0.5 });
      },
    );
    const [left, right] = body.keypoints;
    assert.deepEqual([left.name, right.name], ['left_dot', 'right_dot']);
    expect(left.position).toBeCloseToNested(LEFT, { abs: 0.005 * RIG_SCALE });
    expect(right.position).toBeCloseToNested(RIGHT, { abs: 0.005 * RIG_SCALE });
    assert.equal(left.region.level, 0.9);
    for (const keypoint of [left, right]) {
      assert.deepEqual(
        keypoint.cameras.map((camera: { camera: string; component: number; outlier: boolean }) => [
          camera.camera,
          camera.component,
          camera.outlier,
        ]),
        RIG.map((camera) => [camera.name, 0, false]),
      );
    }
  });

  test('the 3-D covariance is the 2-D covariances propagated through the cameras: exact linearized posterior, between Laplace and κ-scaled Gaussian propagation', async () => {
    const response = await multiviewRequest(service.url, views, { tta: 'false' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const delta = 1;
    const kappa = referenceKappa(2, delta);
    for (const [k, keypoint] of response.body.keypoints.entries()) {
      const factors: LinearizedFactor[] = RIG.map((camera, c) => {
        const observed = response.body.cameras[c].instance.keypoints[k];
        // With one view the 2-D covariance is κ(L/S)²·A⁻² of the fixture (docs/spec.md §3: Σ' = M Σ Mᵀ).
        const scale = (views[c]!.cropSide / DOTS_INPUT_SIZE) ** 2;
        const expected = inverse2([
          [DOTS_A[0][0] ** 2 + DOTS_A[0][1] ** 2, DOTS_A[0][1] * (DOTS_A[0][0] + DOTS_A[1][1])],
          [DOTS_A[0][1] * (DOTS_A[0][0] + DOTS_A[1][1]), DOTS_A[0][1] ** 2 + DOTS_A[1][1] ** 2],
        ]).map((row) => row.map((value) => kappa * scale * value));
        expect(observed.covariance).toBeCloseToNested(expected, { rel: 1e-4 });
        const projected = projectPoint(camera, keypoint.position);
        return {
          jacobian: projectionJacobian(camera, keypoint.position),
          residual: [projected[0] - observed.x, projected[1] - observed.y],
          precision: inverse2(observed.covariance).map((row) => row.map((value) => kappa * value)),
        };
      });
      // Exact: the posterior with each projection linearized at `position`, integrated independently.
      const reference = linearizedPosteriorMoments(factors, delta);
      const scale = Math.max(...reference.covariance.map((row, i) => row[i]!));
      expect(keypoint.covariance).toBeCloseToNested(reference.covariance, { rel: 0.01, abs: 0.01 * scale });
      // Approximate: Gaussian propagation (Σ_c J_cᵀ Σ_c⁻¹ J_c)⁻¹ = κ·H⁻¹ treats each camera's Huber noise as a
      // Gaussian of the same covariance; the Laplace approximation H⁻¹ treats it as the Gaussian of its
      // core. Measured in H's metric the posterior covariance sits between the two (for n identical factors
      // it is exactly κ_2(√n δ)/κ_2(δ) of the first: 0.55 at n = 2, 0.37 at n = 4), so each eigenvalue must
      // lie in [1, κ]; with these four consistent cameras it is close to the lower end.
      const whitened = eigenvalues3(inMetric(keypoint.covariance, gaussNewtonMatrix(factors)));
      for (const value of whitened) assert.ok(value > 1 && value < kappa, `eigenvalue ${value} outside (1, ${kappa})`);
    }
  });

  test('a fifth camera behind the scene sees the dots mirrored: the swap mixture takes its partner, swapPrior 0 flags it', async () => {
    const withBehind = [...views, behind];
    const resolved = await multiviewRequest(service.url, withBehind, { tta: 'false' });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    const [left, right] = resolved.body.keypoints;
    expect(left.position).toBeCloseToNested(LEFT, { abs: 0.005 * RIG_SCALE });
    expect(right.position).toBeCloseToNested(RIGHT, { abs: 0.005 * RIG_SCALE });
    for (const keypoint of [left, right]) {
      assert.deepEqual(
        keypoint.cameras.map((camera: { component: number }) => camera.component),
        [0, 0, 0, 0, 1],
      );
    }

    const unmixed = await multiviewRequest(service.url, withBehind, { tta: 'false', swapPrior: '0' });
    assert.equal(unmixed.status, 200, JSON.stringify(unmixed.body));
    for (const keypoint of unmixed.body.keypoints) {
      assert.deepEqual(
        keypoint.cameras.map((camera: { outlier: boolean }) => camera.outlier),
        [false, false, false, false, true],
      );
    }
  });

  test('JSON {cameras} as the calibration part gives the same answer as the TOML text', async () => {
    const cameras = RIG.map(({ name, matrix, rotation, translation, distortions, size }) => ({
      name,
      matrix,
      rotation,
      translation,
      distortions,
      size,
    }));
    let form = request(service.url)
      .post('/v1/models/dots/predict-multiview')
      .field('calibration', JSON.stringify({ cameras }))
      .field('boxes', JSON.stringify(Object.fromEntries(views.map((v) => [v.camera.name, v.box]))));
    for (const v of views)
      form = form.attach(v.camera.name, v.png, { filename: `${v.camera.name}.png`, contentType: 'image/png' });
    const [asJson, asToml] = await Promise.all([form, multiviewRequest(service.url, views)]);
    assert.equal(asJson.status, 200, JSON.stringify(asJson.body));
    assert.equal(asToml.status, 200, JSON.stringify(asToml.body));
    expect(asJson.body.keypoints[0].position).toBeCloseToNested(asToml.body.keypoints[0].position, { rel: 1e-9 });
  });

  test('refuses an image part for a camera the calibration does not have (422)', async () => {
    const stranger = { ...views[1]!, camera: { ...views[1]!.camera, name: 'attic' } };
    let form = request(service.url)
      .post('/v1/models/dots/predict-multiview')
      .field('calibration', calibrationToml(RIG))
      .attach('north', views[0]!.png, { filename: 'north.png', contentType: 'image/png' })
      .attach('attic', stranger.png, { filename: 'attic.png', contentType: 'image/png' });
    form = form.field('tta', 'false');
    const response = await form;
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.match(response.body.detail, /image part "attic" names no camera of the calibration/);
  });

  test('refuses a rig with a camera named like a form field (422): its image part would be read as the field', async () => {
    const renamed = [views[0]!, { ...views[1]!, camera: { ...views[1]!.camera, name: 'level' } }];
    const response = await request(service.url)
      .post('/v1/models/dots/predict-multiview')
      .field('calibration', calibrationToml(renamed.map((v) => v.camera)))
      .attach('north', views[0]!.png, { filename: 'north.png', contentType: 'image/png' });
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.match(response.body.detail, /camera name "level" is also a field of the form/);
  });

  test('refuses a single image (422): one camera cannot triangulate', async () => {
    const response = await multiviewRequest(service.url, views.slice(0, 1));
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.match(response.body.detail, /1 image part sent; triangulation needs images from at least two cameras/);
  });

  test('a box outside its camera’s image is 422 naming the camera', async () => {
    const moved = views.map((v, c) => (c === 2 ? { ...v, box: { x: 5000, y: 10, width: 100, height: 100 } } : v));
    const response = await multiviewRequest(service.url, moved);
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.match(response.body.detail, /^camera "south": /);
    assert.equal(response.body.camera, 'south');
  });

  test('calibration text that is not TOML is 400 naming its line and key', async () => {
    const response = await request(service.url)
      .post('/v1/models/dots/predict-multiview')
      .field('calibration', calibrationToml(RIG).replace('name = "east"', 'name = east'))
      .attach('north', views[0]!.png, { filename: 'north.png', contentType: 'image/png' })
      .attach('east', views[1]!.png, { filename: 'east.png', contentType: 'image/png' });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.match(response.body.detail, /line 10, column \d+, key "cam_1\.name"/);
  });

  const badForms: Array<{ label: string; fields: Record<string, string>; detail: RegExp }> = [
    {
      label: 'a text field that is neither an option nor an image',
      fields: { colour: 'red' },
      detail: /unexpected text field "colour"/,
    },
    { label: 'tta that is not true or false', fields: { tta: 'yes' }, detail: /field "tta" must be true or false/ },
    {
      label: 'a swapPrior that is not a number',
      fields: { swapPrior: 'five percent' },
      detail: /field "swapPrior" must be a number/,
    },
  ];
  for (const { label, fields, detail } of badForms) {
    test(`refuses ${label} (400)`, async () => {
      const response = await multiviewRequest(service.url, views.slice(0, 2), fields);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.match(response.body.detail, detail);
    });
  }

  test('a swapPrior of 0.5 or more is a 400 validation problem', async () => {
    const response = await multiviewRequest(service.url, views.slice(0, 2), { swapPrior: '0.5' });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.ok(response.body.errors.some((error: { path: string }) => error.path === '/swapPrior'));
  });

  test('a JSON body is 415: the images travel as multipart parts', async () => {
    const response = await request(service.url)
      .post('/v1/models/dots/predict-multiview')
      .send({ calibration: calibrationToml(RIG) });
    assert.equal(response.status, 415, JSON.stringify(response.body));
  });

  describe('x-request-deadline-ms, as for predict, over the whole request', () => {
    const batchSizeCount = async () =>
      (await service.app.metrics.batchSize.get()).values.find((value) => value.metricName === 'huber_inference_batch_size_count')
        ?.value ?? 0;

    test('a deadline that passes before inference is 504 problem+json naming the camera; nothing reaches the model', async () => {
      const before = await batchSizeCount();
      const response = await multiviewRequest(service.url, views, { tta: 'false' }).set('x-request-deadline-ms', '1');
      assert.equal(response.status, 504, JSON.stringify(response.body));
      assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal(response.body.type, 'urn:huber-keypoints:problem:deadline-exceeded');
      assert.match(
        response.body.detail,
        /^camera "(north|east|south|west)": the request deadline passed (while the image was decoded|while it waited for a batch .*); nothing was sent to the model$/,
      );
      assert.equal(await batchSizeCount(), before);
    });

    test('a deadline that passes after the 2-D predictions stops the triangulation: 504, no keypoint computed', async () => {
      const served = service.app.models.entries.get('dots')!.served!;
      const deadlineMs = 1500;
      const crops = views.length;
      let dispatched = 0;
      let armed = true;
      // The app runs in this process: once every camera's crop is handed to the model, holding the event
      // loop past the deadline lets inference finish late, exactly as a slow machine would.
      served.batcher.onBatch((event) => {
        if (!armed) return;
        dispatched += event.size;
        if (dispatched < crops) return;
        armed = false;
        // The request's clock started before this dispatch, so its deadline has passed once this one has.
        const heldFrom = performance.now();
        while (performance.now() < heldFrom + deadlineMs + 5);
      });
      const before = await service.app.metrics.evidenceIterations.get();
      const response = await multiviewRequest(service.url, views, { tta: 'false' }).set(
        'x-request-deadline-ms',
        String(deadlineMs),
      );
      assert.equal(armed, false, 'test setup: the event loop was never held');
      assert.equal(response.status, 504, JSON.stringify(response.body));
      assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal(response.body.type, 'urn:huber-keypoints:problem:deadline-exceeded');
      assert.equal(
        response.body.detail,
        'the request deadline passed after the 2-D predictions, while the keypoints were triangulated (0 of 2 done); the rest were not computed',
      );
      // The solver's iterations are observed once per point it triangulated.
      const after = await service.app.metrics.evidenceIterations.get();
      const solved = (metric: typeof before) =>
        metric.values.find(
          (value) =>
            value.metricName === 'huber_evidence_solver_iterations_count' && value.labels.endpoint === 'predict-multiview',
        )?.value ?? 0;
      assert.equal(solved(after), solved(before), 'no keypoint was triangulated');
    });

    test('a generous deadline (above MAX_DEADLINE_MS, so capped) is served as without one', async () => {
      const response = await multiviewRequest(service.url, views, { tta: 'false' }).set('x-request-deadline-ms', '600000');
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const [left, right] = response.body.keypoints;
      expect(left.position).toBeCloseToNested(LEFT, { abs: 0.005 * RIG_SCALE });
      expect(right.position).toBeCloseToNested(RIGHT, { abs: 0.005 * RIG_SCALE });
    });

    for (const malformed of ['soon', '0', '-5', '2.5']) {
      test(`a malformed header (${JSON.stringify(malformed)}) is a 400 validation problem naming it`, async () => {
        const response = await multiviewRequest(service.url, views.slice(0, 2), { tta: 'false' }).set(
          'x-request-deadline-ms',
          malformed,
        );
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.type, 'urn:huber-keypoints:problem:validation');
        assert.match(response.body.detail, /x-request-deadline-ms/);
      });
    }
  });

  test('an unknown model is 404', async () => {
    const response = await request(service.url)
      .post('/v1/models/nope/predict-multiview')
      .field('calibration', calibrationToml(RIG))
      .attach('north', views[0]!.png, { filename: 'north.png', contentType: 'image/png' })
      .attach('east', views[1]!.png, { filename: 'east.png', contentType: 'image/png' });
    assert.equal(response.status, 404, JSON.stringify(response.body));
  });
});
