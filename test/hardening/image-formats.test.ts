import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import sharp from 'sharp';
import { dotPixels, type Dot } from '../helpers/images.js';
import { sendRaw, startService, type RunningService } from '../helpers/service.js';
import { encodePng, pngClaiming } from './image-writers.js';

// The whole 160×120 image is the box; its 200-px square crop centred at (80, 60) puts each dot in its own half.
const W = 160;
const H = 120;
const left: Dot = { x: 50.5, y: 52.25, sigma: 3 };
const right: Dot = { x: 112.75, y: 68.5, sigma: 3 };
const rgb = dotPixels(W, H, [left, right]);
const grey = Uint8Array.from({ length: W * H }, (_, index) => rgb[index * 3]!);
const raw = () => sharp(rgb, { raw: { width: W, height: H, channels: 3 } });

function samples(planes: ArrayLike<number>[], scale = 1): number[] {
  const out: number[] = [];
  for (let index = 0; index < W * H; index++) for (const plane of planes) out.push(plane[index]! * scale);
  return out;
}
const alpha = Array.from({ length: W * H }, (_, index) => 60 + (index % 190));

describe('every supported format through the dots model: both dots within 0.5 px', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'] });
  });
  afterAll(async () => service.close());

  async function predict(bytes: Buffer, as: 'json' | 'multipart') {
    const post = request(service.url).post('/v1/models/dots/predict');
    if (as === 'json') return post.send({ image: bytes.toString('base64'), tta: false });
    return post.attach('image', bytes, 'image').field('tta', 'false');
  }

  async function expectDots(bytes: Buffer, as: 'json' | 'multipart', expected: [Dot, Dot] = [left, right]) {
    const response = await predict(bytes, as);
    const body = response.body;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.image, { width: W, height: H });
    const found = body.instances[0].keypoints as Array<{ x: number; y: number }>;
    expected.forEach((dot, index) => {
      const error = Math.hypot(found[index]!.x - dot.x, found[index]!.y - dot.y);
      assert.ok(
        error <= 0.5,
        `keypoint ${index} at (${found[index]!.x}, ${found[index]!.y}), expected (${dot.x}, ${dot.y}): ${error.toFixed(3)} px off`,
      );
    });
  }

  const formats: Array<[string, () => Buffer | Promise<Buffer>]> = [
    ['8-bit grey PNG', () => encodePng(W, H, 'grey', 8, grey)],
    ['grey-with-alpha PNG', () => encodePng(W, H, 'grey-alpha', 8, samples([grey, alpha]))],
    ['RGBA PNG', () => encodePng(W, H, 'rgba', 8, samples([grey, grey, grey, alpha]))],
    ['16-bit RGB PNG', () => encodePng(W, H, 'rgb', 16, samples([grey, grey, grey], 257))],
    ['16-bit grey PNG', () => encodePng(W, H, 'grey', 16, samples([grey], 257))],
    ['JPEG', () => raw().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer()],
    ['WebP (lossless)', () => raw().webp({ lossless: true }).toBuffer()],
    ['WebP (lossy, quality 95)', () => raw().webp({ quality: 95 }).toBuffer()],
    ['AVIF (lossless)', () => raw().avif({ lossless: true }).toBuffer()],
    ['TIFF (LZW)', () => raw().tiff({ compression: 'lzw' }).toBuffer()],
    ['GIF', () => raw().gif({ dither: 0 }).toBuffer()],
  ];
  for (const [label, build] of formats) {
    for (const as of ['json', 'multipart'] as const) {
      test(`${label} as ${as}`, async () => expectDots(await build(), as));
    }
  }

  // CMYK is checked pixel by pixel in test/pipeline/image-decoder.test.ts: the profile round trip
  // reads black back as about (10, 5, 0), a uniform floor that biases the centroid model by pixels.

  for (const format of ['gif', 'webp', 'tiff'] as const) {
    test(`animated or multi-page ${format}: the first frame is the image`, async () => {
      const moved: [Dot, Dot] = [
        { ...left, x: left.x - 20, y: left.y + 15 },
        { ...right, x: right.x + 15, y: right.y - 20 },
      ];
      const frames = await Promise.all(
        [[left, right], moved].map((dots) =>
          sharp(dotPixels(W, H, dots), { raw: { width: W, height: H, channels: 3 } })
            .png()
            .toBuffer(),
        ),
      );
      const joined = sharp(frames, { join: { animated: true } });
      const bytes = await (
        format === 'gif'
          ? joined.gif({ dither: 0 })
          : format === 'webp'
            ? joined.webp({ lossless: true })
            : joined.tiff({ compression: 'lzw' })
      ).toBuffer();
      assert.equal((await sharp(bytes).metadata()).pages, 2, 'test setup: two frames');
      await expectDots(bytes, 'multipart');
    });
  }
});

describe('hostile images and bodies over HTTP', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'] });
  });
  afterAll(async () => service.close());

  async function expectProblem(response: request.Response, status: number, detail: RegExp) {
    const { text } = response;
    assert.equal(response.status, status, text);
    assert.match(response.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.match(JSON.parse(text).detail, detail);
  }
  const path = '/v1/models/dots/predict';
  const json = async (body: object) => request(service.url).post(path).send(body);
  const multipart = async (bytes: Buffer) => request(service.url).post(path).attach('image', bytes, 'image.png');
  const declared = async (body: string | Buffer, type: string) =>
    sendRaw(service.url, 'post', path, body, { 'content-type': type });

  test('a tiny PNG declaring 50000×50000: 413 from the header, as JSON and multipart, memory flat', async () => {
    const bomb = pngClaiming(50_000, 50_000);
    const before = process.memoryUsage.rss();
    for (let round = 0; round < 10; round++) {
      await expectProblem(
        await json({ image: bomb.toString('base64') }),
        413,
        /50000×50000 = 2500000000 pixels, over the limit of 40000000/,
      );
      await expectProblem(await multipart(bomb), 413, /50000×50000/);
    }
    const grown = process.memoryUsage.rss() - before;
    assert.ok(grown < 96 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  });

  test('zero-byte image: 400 "image is empty", as a multipart file and as empty base64', async () => {
    await expectProblem(await multipart(Buffer.alloc(0)), 400, /image is empty/);
    // In JSON the schema refuses the empty string before any decoding.
    await expectProblem(await json({ image: '' }), 400, /body\/image must NOT have fewer than 1 characters/);
  });

  test('truncated and corrupt images over HTTP: 400 naming the format', async () => {
    const jpeg = await raw().jpeg().toBuffer();
    await expectProblem(await multipart(jpeg.subarray(0, jpeg.length >> 1)), 400, /could not be decoded as jpeg/);
    const png = encodePng(W, H, 'grey', 8, grey);
    const corrupt = Buffer.from(png);
    corrupt[png.indexOf('IDAT') + 30]! ^= 0xff;
    await expectProblem(await json({ image: corrupt.toString('base64') }), 400, /could not be decoded as png/);
  });

  test('a box too large for the crop geometry (found by the fuzz test, was a 500): 422 naming the box', async () => {
    const png = encodePng(W, H, 'grey', 8, grey);
    await expectProblem(
      await json({ image: png.toString('base64'), boxes: [{ x: 0, y: 0, width: 1e308, height: 2 }] }),
      422,
      /boxes\[0\].*beyond/,
    );
    const response = await request(service.url)
      .post(path)
      .attach('image', png, 'image.png')
      .field('boxes', '[{"x":null,"y":"-1","width":1e308,"height":2}]');
    // Multipart fields meet the same strict schema as JSON: null is not coerced to 0.
    await expectProblem(response, 400, /^body\/boxes\/0\/x must be number$/);
  });

  test('wrong content types: 415 problem, or 400 where the type is right but the body is not', async () => {
    const png = encodePng(W, H, 'grey', 8, grey);
    for (const type of [
      'image/png',
      'application/octet-stream',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
    ]) {
      await expectProblem(await declared(png, type), 415, /^Unsupported Media Type/);
    }
    // Declared JSON that is an image, and multipart with no boundary.
    await expectProblem(
      await declared(png, 'application/json'),
      400,
      /^Body is not valid JSON but content-type is set to 'application\/json'$/,
    );
    const noBoundary = await declared('x', 'multipart/form-data');
    await expectProblem(noBoundary, 400, /multipart body could not be read: .*Boundary not found/);
    const cutOff = await declared(
      Buffer.from('--XyZ\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG', 'latin1'),
      'multipart/form-data; boundary=XyZ',
    );
    await expectProblem(cutOff, 400, /multipart body could not be read|image/);
    // The service still answers.
    const good = await json({ image: png.toString('base64') });
    assert.equal(good.status, 200);
  });
});
