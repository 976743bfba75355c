import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import sharp from 'sharp';
import { dotImage } from '../helpers/images.js';
import { sendRaw, startService, type RunningService } from '../helpers/service.js';

describe('error responses are problem+json with the right status, and the service stays up', () => {
  let service: RunningService;
  let png: Buffer;
  beforeAll(async () => {
    service = await startService({
      models: ['dots'],
      env: { BODY_LIMIT_BYTES: String(256 * 1024), MAX_BOXES: '4', MAX_IMAGE_PIXELS: '1000000' },
    });
    png = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }]);
  });
  afterAll(async () => service.close());

  async function expectProblem(response: request.Response, status: number, detailPattern: RegExp) {
    const text = response.text;
    assert.equal(response.status, status, text);
    assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
    const body = JSON.parse(text);
    assert.equal(body.status, status);
    assert.equal(typeof body.title, 'string');
    assert.match(body.type, /^urn:huber-keypoints:problem:/);
    assert.match(body.detail, detailPattern);
    assert.doesNotMatch(text, /at .*\.js:\d+/, 'no stack trace in the body');
    // The service keeps answering good requests after every refusal.
    const check = await post({ image: png.toString('base64') });
    assert.equal(check.status, 200);
    return body;
  }

  async function post(body: unknown, model = 'dots', headers: Record<string, string> = { 'content-type': 'application/json' }) {
    const bytes = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    return sendRaw(service.url, 'post', `/v1/models/${model}/predict`, bytes, headers);
  }

  /** A multipart request to the dots model; the parts are added by the caller. */
  const multipart = () => request(service.url).post('/v1/models/dots/predict');

  test('unknown model: 404', async () => {
    await expectProblem(
      await post({ image: png.toString('base64') }, 'no-such-model'),
      404,
      /"no-such-model" is not in the model repository/,
    );
  });

  test('path tricks in the model name: 404, nothing read from disk', async () => {
    for (const name of ['..%2Fdots', '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd', 'dots%2F..%2Fdots']) {
      const response = await post({ image: png.toString('base64') }, name);
      assert.equal(response.status, 404, name);
      assert.match(response.headers['content-type'] ?? '', /problem\+json/);
    }
  });

  test('bytes that are not an image: 415', async () => {
    await expectProblem(
      await post({ image: Buffer.from('definitely not an image').toString('base64') }),
      415,
      /not a supported image/,
    );
  });

  test('a truncated PNG: 400 naming the format', async () => {
    await expectProblem(
      await post({ image: png.subarray(0, png.length - 40).toString('base64') }),
      400,
      /could not be decoded as png/,
    );
  });

  test('invalid base64: 400', async () => {
    await expectProblem(await post({ image: '!!!not base64!!!' }), 400, /base64/);
    // One bad character deep inside otherwise canonical base64 is still refused, not skipped.
    const canonical = png.toString('base64');
    const middle = canonical.length >> 1;
    await expectProblem(await post({ image: `${canonical.slice(0, middle)}*${canonical.slice(middle + 1)}` }), 400, /base64/);
  });

  test('base64 wrapped in lines (MIME) or without padding is read as the same image', async () => {
    const canonical = png.toString('base64');
    const expected = (await post({ image: canonical })).body;
    const wrapped = canonical.replace(/.{76}/g, '$&\r\n');
    assert.notEqual(wrapped, canonical);
    const unpadded = canonical.replace(/=+$/, '');
    assert.notEqual(unpadded, canonical, 'the test image must need padding');
    for (const image of [wrapped, unpadded]) {
      const response = await post({ image });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.instances, expected.instances);
    }
  });

  test('malformed JSON: 400', async () => {
    await expectProblem(await post('{"image": '), 400, /JSON|json/);
  });

  test('missing image: 400 naming the field', async () => {
    await expectProblem(await post({ boxes: [] }), 400, /image/);
  });

  test('unknown field: 400 naming it', async () => {
    await expectProblem(await post({ image: png.toString('base64'), colour: 'blue' }), 400, /additional properties|colour/);
  });

  test('level outside (0, 1): 400', async () => {
    await expectProblem(await post({ image: png.toString('base64'), level: 1 }), 400, /level/);
    await expectProblem(await post({ image: png.toString('base64'), level: 0 }), 400, /level/);
  });

  test('zero-width box: 400 from the schema', async () => {
    await expectProblem(
      await post({ image: png.toString('base64'), boxes: [{ x: 1, y: 1, width: 0, height: 5 }] }),
      400,
      /width/,
    );
  });

  test('box that overflows to Infinity: 400 naming the box field', async () => {
    const body = `{"image": "${png.toString('base64')}", "boxes": [{"x": 1, "y": 1, "width": 10, "height": 10}, {"x": 1e400, "y": 1, "width": 10, "height": 10}]}`;
    await expectProblem(await post(body), 400, /boxes\/1\/x must be number/);
  });

  test('a box too small to crop (1e-80 px): 422 naming the box, not a 500 from underflowing maths', async () => {
    await expectProblem(
      await post({ image: png.toString('base64'), boxes: [{ x: 10, y: 10, width: 1e-80, height: 1e-80 }] }),
      422,
      /boxes\[0\] has width 1e-80 and height 1e-80; both must be at least 0.001 px/,
    );
  });

  test('box outside the image: 422 naming the box', async () => {
    await expectProblem(
      await post({
        image: png.toString('base64'),
        boxes: [
          { x: 10, y: 10, width: 20, height: 20 },
          { x: 500, y: 10, width: 20, height: 20 },
        ],
      }),
      422,
      /boxes\[1\].*outside the 200×150 image/,
    );
  });

  test('too many boxes: 422', async () => {
    const boxes = Array.from({ length: 5 }, () => ({ x: 10, y: 10, width: 20, height: 20 }));
    await expectProblem(await post({ image: png.toString('base64'), boxes }), 422, /5 boxes sent, more than the limit of 4/);
  });

  test('body over the limit: 413', async () => {
    await expectProblem(await post({ image: 'A'.repeat(300 * 1024) }), 413, /^Request body is too large/);
  });

  test('multipart file over the limit: 413', async () => {
    await expectProblem(
      await multipart().attach('image', Buffer.alloc(300 * 1024, 1), 'big.png'),
      413,
      /^request file too large/,
    );
  });

  test('image over the pixel limit (a small PNG declaring many pixels): 413', async () => {
    const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: { r: 0, g: 0, b: 0 } } })
      .png()
      .toBuffer();
    await expectProblem(
      await post({ image: big.toString('base64') }),
      413,
      /2000×2000 = 4000000 pixels, over the limit of 1000000/,
    );
  });

  test('multipart text field longer than the field limit: 413, not a misleading damaged-image 400', async () => {
    await expectProblem(await multipart().field('image', 'A'.repeat(1024 * 1024 + 10)), 413, /field "image" is longer than/);
  });

  test('multipart with two image parts: 400', async () => {
    await expectProblem(
      await multipart().attach('image', png, 'one.png').attach('image', png, 'two.png'),
      400,
      /more than one image part/,
    );
  });

  test('multipart without the image part: 400', async () => {
    await expectProblem(await multipart().field('boxes', '[]'), 400, /image/);
  });

  test('multipart with boxes that are not JSON: 400 naming boxes', async () => {
    await expectProblem(
      await multipart().attach('image', png, 'dots.png').field('boxes', '[{x: 1}'),
      400,
      /boxes field is not valid JSON/,
    );
  });

  test('unsupported content type: 415', async () => {
    await expectProblem(await post('hello', 'dots', { 'content-type': 'text/plain' }), 415, /^Unsupported Media Type/);
  });

  test('unknown route: 404 problem', async () => {
    await expectProblem(await request(service.url).get('/v2/nothing'), 404, /no route GET \/v2\/nothing/);
  });

  test('GET /v1/models/{unknown}: 404', async () => {
    await expectProblem(await request(service.url).get('/v1/models/nope'), 404, /"nope"/);
  });
});
