import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clientSchemaPath, renderClientSchema } from '../../clients/typescript/generate.js';
import {
  createHuberKeypointsClient,
  predictFormData,
  type HuberKeypointsClient,
  type PredictResponse,
} from '../../clients/typescript/index.js';
import { dotImage } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';

test('the committed client types match openapi/openapi.json (run `npm run client:generate` after changing the API)', async () => {
  const committed = await readFile(clientSchemaPath, 'utf8');
  const rendered = await renderClientSchema();
  assert.ok(committed === rendered, `${clientSchemaPath} is stale: run \`npm run client:generate\` and commit the result`);
});

describe('the generated TypeScript client against the real service', () => {
  let service: RunningService;
  let client: HuberKeypointsClient;
  const box = { x: 40, y: 30, width: 240, height: 180 };
  const dots = [
    { x: 105.3, y: 101.6, sigma: 3 },
    { x: 214.8, y: 128.2, sigma: 3 },
  ];
  let png: Buffer;

  beforeAll(async () => {
    service = await startService({ models: ['dots'] });
    client = createHuberKeypointsClient(service.url);
    png = await dotImage(320, 240, dots);
  });
  afterAll(async () => service.close());

  /** Typed access only: a renamed or retyped field in the API fails compilation here. */
  function checkDots(prediction: PredictResponse) {
    assert.equal(prediction.model.name, 'dots');
    assert.equal(prediction.model.trained, false);
    assert.equal(prediction.model.executionProvider, 'cpu');
    assert.deepEqual(prediction.image, { width: 320, height: 240 });
    const [instance] = prediction.instances;
    assert.ok(instance);
    assert.deepEqual(instance.box, box);
    const [left, right] = instance.keypoints;
    assert.ok(left && right);
    assert.equal(left.name, 'left_dot');
    assert.equal(right.name, 'right_dot');
    expect(left.x, 'left x').toBeCloseToNested(dots[0]!.x, { abs: 0.5 });
    expect(left.y, 'left y').toBeCloseToNested(dots[0]!.y, { abs: 0.5 });
    expect(right.x, 'right x').toBeCloseToNested(dots[1]!.x, { abs: 0.5 });
    expect(right.y, 'right y').toBeCloseToNested(dots[1]!.y, { abs: 0.5 });
    assert.equal(left.covariance.length, 2);
    const [rowX = [], rowY = []] = left.covariance;
    const [sxx = NaN, sxy = NaN] = rowX;
    const [syx = NaN, syy = NaN] = rowY;
    assert.equal(sxy, syx);
    expect(left.rmse, 'rmse').toBeCloseToNested(Math.sqrt(sxx + syy), { abs: 1e-9 });
    assert.ok(left.ellipse.semiMajor >= left.ellipse.semiMinor);
    assert.ok(prediction.timings.totalMs > 0);
  }

  test('lists the models', async () => {
    const { data, error, response } = await client.GET('/v1/models');
    assert.equal(response.status, 200, JSON.stringify(error));
    assert.ok(data);
    const dotsModel = data.models.find((model) => model.name === 'dots');
    assert.ok(dotsModel, `dots missing from ${data.models.map((model) => model.name).join(', ')}`);
    assert.equal(dotsModel.state, 'ready');
  });

  test('reads one model, and reads an unknown one as a typed problem', async () => {
    const { data } = await client.GET('/v1/models/{model}', { params: { path: { model: 'dots' } } });
    assert.ok(data);
    assert.equal(data.name, 'dots');
    assert.equal(data.trained, false);
    assert.equal(data.executionProvider, 'cpu');
    assert.deepEqual(data.inputs[0]?.shape, ['N', 3, 64, 64]);
    assert.ok(typeof data.kappa === 'number' && data.kappa > 0);

    const missing = await client.GET('/v1/models/{model}', { params: { path: { model: 'no-such-model' } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.data, undefined);
    assert.ok(missing.error);
    assert.equal(missing.error.status, 404);
    assert.match(missing.error.detail, /no-such-model/);
  });

  test('predicts with a JSON body', async () => {
    const { data, error } = await client.POST('/v1/models/{model}/predict', {
      params: { path: { model: 'dots' } },
      body: { image: png.toString('base64'), boxes: [box], tta: true, fusion: 'ml', level: 0.9 },
    });
    assert.ok(data, JSON.stringify(error));
    checkDots(data);
    assert.equal(data.instances[0]?.keypoints[0]?.ellipse.level, 0.9);
  });

  test('predicts with a multipart body (bodySerializer builds the FormData)', async () => {
    const image = new Blob([new Uint8Array(png)], { type: 'image/png' });
    const { data, error, response } = await client.POST('/v1/models/{model}/predict', {
      params: { path: { model: 'dots' } },
      // The typed body is the document's multipart schema; the serializer turns it into real parts.
      body: { image: 'image.png', boxes: [box], tta: false },
      bodySerializer: (body) => predictFormData({ ...body, image }),
    });
    assert.ok(data, JSON.stringify(error));
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    checkDots(data);
  });
});
