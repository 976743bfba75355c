import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import request from 'supertest';
import sharp from 'sharp';
import { DOTS_A, DOTS_NU_NORMALIZATION } from '../helpers/fixture-models.js';
import { dotImage, dotPixels, type Dot } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';

// SPEC §1 check values for d = 2, δ = 1, used as independent constants.
const KAPPA_2_1 = 3.076474;
const R95_2_1 = 4.775234;

type Box = { x: number; y: number; width: number; height: number };

/**
 * Two dots left and right of the box centre, each well inside its half of the crop and, for boxes
 * that hang over the border, pulled in so that the whole dot is in the image.
 */
function dotsFor(box: Box, crop: { size: number }, image: [number, number] = [1e9, 1e9]): { left: Dot; right: Dot } {
  const side = Math.hypot(box.width, box.height);
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const sigma = Math.max(1.5, (1.5 * side) / crop.size);
  const inside = (value: number, limit: number) => Math.min(Math.max(value, 4 * sigma), limit - 4 * sigma);
  const left = { x: inside(cx - 0.21 * side, image[0]), y: inside(cy - 0.06 * side, image[1]), sigma };
  const right = { x: inside(cx + 0.17 * side, image[0]), y: inside(cy + 0.09 * side, image[1]), sigma };
  assert.ok(cx - left.x > 4 * sigma && right.x - cx > 4 * sigma, 'test setup: dots must sit in their own halves');
  return { left, right };
}

function inverse2(m: number[][]): number[][] {
  const det = m[0]![0]! * m[1]![1]! - m[0]![1]! * m[1]![0]!;
  return [
    [m[1]![1]! / det, -m[0]![1]! / det],
    [-m[1]![0]! / det, m[0]![0]! / det],
  ];
}

function multiply2(a: number[][], b: number[][]): number[][] {
  return [0, 1].map((i) => [0, 1].map((j) => a[i]![0]! * b[0]![j]! + a[i]![1]! * b[1]![j]!));
}

describe('POST /v1/models/{model}/predict', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(async () => service.close());

  const boxes: Array<{ label: string; image: [number, number]; box: Box }> = [
    { label: 'inside the image', image: [640, 480], box: { x: 120, y: 90, width: 220, height: 160 } },
    { label: 'small (upsampled)', image: [320, 240], box: { x: 200, y: 40, width: 30, height: 42 } },
    { label: 'partly outside, left and top', image: [400, 300], box: { x: -60, y: -40, width: 260, height: 200 } },
    { label: 'partly outside, right and bottom, tall', image: [500, 400], box: { x: 340, y: 250, width: 180, height: 260 } },
    { label: 'wide', image: [700, 300], box: { x: 50, y: 120, width: 500, height: 90 } },
  ];

  for (const { label, image, box } of boxes) {
    for (const tta of [true, false]) {
      for (const model of ['dots', 'dots-nu']) {
        test(`${model} finds both dots within 0.5 px: box ${label}, tta ${tta}`, async () => {
          const { left, right } = dotsFor(box, { size: 64 }, image);
          const png = await dotImage(image[0], image[1], [left, right]);
          const response = await request(service.url)
            .post(`/v1/models/${model}/predict`)
            .send({
              image: png.toString('base64'),
              boxes: [box],
              tta,
            });
          assert.equal(response.status, 200, JSON.stringify(response.body));
          const [leftDot, rightDot] = response.body.instances[0].keypoints;
          assert.equal(leftDot.name, 'left_dot');
          assert.equal(rightDot.name, 'right_dot');
          expect(leftDot.x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
          expect(leftDot.y, 'left y').toBeCloseToNested(left.y, { abs: 0.5 });
          expect(rightDot.x, 'right x').toBeCloseToNested(right.x, { abs: 0.5 });
          expect(rightDot.y, 'right y').toBeCloseToNested(right.y, { abs: 0.5 });
          assert.deepEqual(response.body.image, { width: image[0], height: image[1] });
        });
      }
    }
  }

  test('covariance and ellipse follow from the constant precision, the crop scale and the mirror', async () => {
    const box = { x: 100, y: 60, width: 180, height: 240 };
    const { left, right } = dotsFor(box, { size: 64 });
    const png = await dotImage(480, 400, [left, right]);
    const scale = Math.hypot(box.width, box.height) / 64;
    // Σ in input pixels is κ A⁻²; the crop scales it by (L/S)², the mirror flips the sign of σxy.
    const aInverse = inverse2(DOTS_A);
    const sigmaInput = multiply2(aInverse, aInverse).map((row) => row.map((value) => KAPPA_2_1 * value * scale * scale));
    for (const tta of [false, true]) {
      const response = await request(service.url)
        .post('/v1/models/dots/predict')
        .send({
          image: png.toString('base64'),
          boxes: [box],
          tta,
          level: 0.95,
          includeViews: true,
        });
      assert.equal(response.status, 200);
      const keypoint = response.body.instances[0].keypoints[0];
      // Agreeing views: the mixture moment is the average of the two views' covariances.
      const expected = tta
        ? [
            [sigmaInput[0]![0]!, 0],
            [0, sigmaInput[1]![1]!],
          ]
        : sigmaInput;
      const tolerance = 0.02 * sigmaInput[0]![0]!;
      for (const i of [0, 1])
        for (const j of [0, 1])
          expect(keypoint.covariance[i][j], `Σ${i}${j} (tta ${tta})`).toBeCloseToNested(expected[i]![j]!, { abs: tolerance });
      const trace = expected[0]![0]! + expected[1]![1]!;
      expect(keypoint.rmse, 'rmse').toBeCloseToNested(Math.sqrt(trace), { abs: 0.01 * Math.sqrt(trace) });
      // Semi-axes are r_p √(eigenvalues of Σ / κ).
      const half = trace / 2;
      const spread = Math.sqrt(((expected[0]![0]! - expected[1]![1]!) / 2) ** 2 + expected[0]![1]! ** 2);
      expect(keypoint.ellipse.semiMajor, 'semiMajor').toBeCloseToNested(R95_2_1 * Math.sqrt((half + spread) / KAPPA_2_1), {
        abs: 0.01 * keypoint.ellipse.semiMajor,
      });
      expect(keypoint.ellipse.semiMinor, 'semiMinor').toBeCloseToNested(R95_2_1 * Math.sqrt((half - spread) / KAPPA_2_1), {
        abs: 0.01 * keypoint.ellipse.semiMajor,
      });
      assert.equal(keypoint.ellipse.level, 0.95);
      const views = response.body.instances[0].views;
      assert.equal(views.length, tta ? 2 : 1);
      if (tta) {
        expect(views[1].keypoints[0].covariance[0][1], 'mirrored view σxy').toBeCloseToNested(-sigmaInput[0]![1]!, {
          abs: tolerance,
        });
        expect(views[0].keypoints[0].covariance[0][1], 'plain view σxy').toBeCloseToNested(sigmaInput[0]![1]!, {
          abs: tolerance,
        });
      }
    }
  });

  test('dots-nu: each keypoint keeps its own normalization through the flip permutation', async () => {
    // The two keypoints have different whitening; a slot decoded with its partner's constants lands elsewhere.
    assert.notDeepEqual(DOTS_NU_NORMALIZATION[0], DOTS_NU_NORMALIZATION[1]);
    const box = { x: 40, y: 30, width: 200, height: 200 };
    const { left, right } = dotsFor(box, { size: 64 });
    const png = await dotImage(300, 300, [left, right]);
    const response = await request(service.url)
      .post('/v1/models/dots-nu/predict')
      .send({
        image: png.toString('base64'),
        boxes: [box],
        includeViews: true,
      });
    assert.equal(response.status, 200);
    const [plain, mirrored] = response.body.instances[0].views;
    for (const view of [plain, mirrored]) {
      expect(view.keypoints[0].x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
      expect(view.keypoints[1].x, 'right x').toBeCloseToNested(right.x, { abs: 0.5 });
    }
  });

  test('crop buffers are reused across requests and carry nothing over: the same request answers the same', async () => {
    const box = { x: -30, y: 40, width: 200, height: 150 };
    const { left, right } = dotsFor(box, { size: 64 }, [400, 300]);
    const dots = (await dotImage(400, 300, [left, right])).toString('base64');
    // Grey everywhere, so that any crop element not written anew would hold a value the dots image has not.
    const grey = (
      await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 90, g: 90, b: 90 } } })
        .png()
        .toBuffer()
    ).toString('base64');
    const send = (image: string, sent: Box = box) =>
      request(service.url)
        .post('/v1/models/dots/predict')
        .send({ image, boxes: [sent], tta: true });
    const before = await send(dots);
    const pool = service.app.models.entries.get('dots')!.served!.cropBuffers;
    assert.ok(pool.idleBytes >= 2 * 3 * 64 * 64 * 4, `the settled request's buffer is kept (${pool.idleBytes} bytes idle)`);
    // The same buffer holds a grey crop from inside the image next. The first box hangs over the left
    // border, where constant padding must read 0 again for the dots image, not the grey left there.
    const between = await send(grey, { x: 100, y: 60, width: 200, height: 150 });
    assert.equal(between.status, 200);
    const again = await send(dots);
    assert.deepEqual(again.body.instances, before.body.instances);
  });

  test('several boxes in one request come back in order', async () => {
    const boxesSent = [
      { x: 20, y: 20, width: 160, height: 120 },
      { x: 320, y: 200, width: 200, height: 150 },
      { x: 60, y: 300, width: 120, height: 160 },
    ];
    const dots = boxesSent.flatMap((box) => Object.values(dotsFor(box, { size: 64 })));
    const png = await dotImage(640, 480, dots);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .send({ image: png.toString('base64'), boxes: boxesSent });
    assert.equal(response.status, 200);
    assert.equal(response.body.instances.length, 3);
    boxesSent.forEach((box, index) => {
      const { left, right } = dotsFor(box, { size: 64 });
      const instance = response.body.instances[index];
      assert.deepEqual(instance.box, box);
      expect(instance.keypoints[0].x, `box ${index} left x`).toBeCloseToNested(left.x, { abs: 0.5 });
      expect(instance.keypoints[1].y, `box ${index} right y`).toBeCloseToNested(right.y, { abs: 0.5 });
    });
  });

  test('multipart/form-data: image file part, boxes as JSON, options as fields', async () => {
    const box = { x: 150, y: 100, width: 240, height: 180 };
    const { left, right } = dotsFor(box, { size: 64 });
    const png = await dotImage(640, 480, [left, right]);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .attach('image', png, { filename: 'dots.png', contentType: 'image/png' })
      .field('boxes', JSON.stringify([box]))
      .field('tta', 'false')
      .field('level', '0.5');
    const body = response.body;
    assert.equal(response.status, 200, JSON.stringify(body));
    expect(body.instances[0].keypoints[0].x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
    expect(body.instances[0].keypoints[1].y, 'right y').toBeCloseToNested(right.y, { abs: 0.5 });
    assert.equal(body.instances[0].keypoints[0].ellipse.level, 0.5);
  });

  test('multipart/form-data: boxes may also come as an application/json part, as the document encodes it', async () => {
    const box = { x: 100, y: 80, width: 200, height: 150 };
    const { left, right } = dotsFor(box, { size: 64 });
    const png = await dotImage(400, 300, [left, right]);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .attach('image', png, { filename: 'dots.png', contentType: 'image/png' })
      .attach('boxes', Buffer.from(JSON.stringify([box])), { filename: 'boxes.json', contentType: 'application/json' });
    const body = response.body;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.instances[0].box, box);
    expect(body.instances[0].keypoints[0].x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
    expect(body.instances[0].keypoints[1].x, 'right x').toBeCloseToNested(right.x, { abs: 0.5 });
  });

  test('EXIF orientation: coordinates refer to the oriented image', async () => {
    // Stored landscape 400×300 with orientation 6 (rotate 90° clockwise to display): displayed 300×400.
    const displayedBox = { x: 40, y: 80, width: 200, height: 180 };
    const { left, right } = dotsFor(displayedBox, { size: 64 });
    // A displayed point (x, y) is stored at (y, 300 − x) for orientation 6.
    const stored = [left, right].map((dot) => ({ x: dot.y, y: 300 - dot.x, sigma: dot.sigma }));
    const jpeg = await sharp(dotPixels(400, 300, stored), { raw: { width: 400, height: 300, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .send({
        image: jpeg.toString('base64'),
        boxes: [displayedBox],
      });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.image, { width: 300, height: 400 });
    expect(response.body.instances[0].keypoints[0].x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
    expect(response.body.instances[0].keypoints[0].y, 'left y').toBeCloseToNested(left.y, { abs: 0.5 });
    expect(response.body.instances[0].keypoints[1].x, 'right x').toBeCloseToNested(right.x, { abs: 0.5 });
  });

  test('no boxes: the whole image is the box', async () => {
    const box = { x: 0, y: 0, width: 320, height: 240 };
    const { left, right } = dotsFor(box, { size: 64 });
    const png = await dotImage(320, 240, [left, right]);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .send({ image: png.toString('base64') });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.instances[0].box, box);
    expect(response.body.instances[0].keypoints[0].x, 'left x').toBeCloseToNested(left.x, { abs: 0.5 });
  });

  test('every response says whether the model is trained and which provider ran it', async () => {
    const png = await dotImage(64, 64, [{ x: 20, y: 30, sigma: 2 }]);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .send({ image: png.toString('base64') });
    assert.deepEqual(response.body.model, {
      name: 'dots',
      version: '1',
      trained: false,
      executionProvider: 'cpu',
      precision: 'fp32',
    });
  });
});
