import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import request from 'supertest';
import sharp from 'sharp';
import { DEFAULT_MODEL_NAME, ensureDefaultModel } from '../../tools/model-builder/default-model.js';
import { SeededRandom } from '../../tools/seeded-random.js';
import { WFLW_KEYPOINT_NAMES } from '../../tools/model-builder/wflw.js';
import { startService, type RunningService } from '../helpers/service.js';

/** A photo-like JPEG: smooth gradients plus seeded noise, so the network sees varied input. */
async function syntheticPhoto(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  const random = new SeededRandom(12345);
  for (let i = 0; i < pixels.length; i++) {
    const pixel = Math.floor(i / 3);
    const x = pixel % width;
    const y = Math.floor(pixel / width);
    pixels[i] = Math.min(255, Math.floor((x / width) * 120 + (y / height) * 80 + 50 * random.nextUniform()));
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

describe('ResNet Huber regressors end to end (CPU)', () => {
  let service: RunningService;
  let photo: Buffer;
  beforeAll(async () => {
    service = await startService({ models: ['resnet18-huber-tiny'], prepare: (repository) => ensureDefaultModel(repository) });
    photo = await syntheticPhoto(640, 480);
  });
  afterAll(async () => service.close());

  for (const model of [DEFAULT_MODEL_NAME, 'resnet18-huber-tiny']) {
    test(`${model} loads and answers with 98 finite keypoints, marked untrained`, async () => {
      const box = { x: 200, y: 120, width: 220, height: 260 };
      const response = await request(service.url)
        .post(`/v1/models/${model}/predict`)
        .send({
          image: photo.toString('base64'),
          boxes: [box],
        });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.model.trained, false);
      assert.equal(response.body.model.executionProvider, 'cpu');
      const keypoints = response.body.instances[0].keypoints;
      assert.deepEqual(
        keypoints.map((keypoint: { name: string }) => keypoint.name),
        [...WFLW_KEYPOINT_NAMES],
      );
      const side = Math.hypot(box.width, box.height);
      for (const keypoint of keypoints) {
        for (const value of [keypoint.x, keypoint.y, keypoint.rmse, keypoint.ellipse.semiMajor, ...keypoint.covariance.flat()]) {
          assert.ok(Number.isFinite(value), `${keypoint.name}: ${JSON.stringify(keypoint)}`);
        }
        // Untrained weights predict near the synthetic mean face, which lies inside the crop.
        expect([keypoint.x, keypoint.y], keypoint.name).toBeCloseToNested([box.x + box.width / 2, box.y + box.height / 2], {
          abs: side / 2,
        });
        assert.ok(keypoint.covariance[0][0] > 0 && keypoint.covariance[1][1] > 0);
        assert.ok(keypoint.ellipse.semiMajor >= keypoint.ellipse.semiMinor && keypoint.ellipse.semiMinor > 0);
      }
    });
  }

  test('the model listing says the default model is untrained', async () => {
    const { models } = (await request(service.url).get('/v1/models')).body as { models: any[] };
    const listed = models.find((model) => model.name === DEFAULT_MODEL_NAME);
    assert.equal(listed.trained, false);
    assert.equal(listed.state, 'ready');
    assert.deepEqual(listed.outputs[0].shape.slice(1), [490]);
  });
});
