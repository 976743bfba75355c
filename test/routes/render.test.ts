import assert from 'node:assert/strict';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DOT_RADIUS_UNITS, legendRect, strokeUnit } from '../../src/render/overlay-svg.js';
import { relativeRmse, uncertaintyRgb } from '../../src/render/uncertainty-colour.js';
import { dotPixels } from '../helpers/images.js';
import { createRng } from '../helpers/prng.js';
import { postJson, startService, type RunningService } from '../helpers/service.js';

type Box = { x: number; y: number; width: number; height: number };
type Keypoint = {
  name: string;
  x: number;
  y: number;
  covariance: number[][];
  ellipse: { level: number; semiMajor: number; semiMinor: number; angle: number };
  rmse: number;
};

const WIDTH = 480;
const HEIGHT = 360;
const BOX: Box = { x: 120, y: 70, width: 240, height: 200 };

/** Two dots in the box's halves over seeded noise, so "unchanged" pixels are a real comparison. */
function inputPixels(): Buffer {
  const pixels = dotPixels(WIDTH, HEIGHT, [
    { x: 190, y: 150, sigma: 3 },
    { x: 300, y: 190, sigma: 3 },
  ]);
  const rng = createRng(11);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.min(255, pixels[i]! + Math.floor(rng.range(0, 48)));
  return pixels;
}

async function rawRgb(image: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Attributes of every `<tag …>` in a machine-written SVG, and the text of its <title> when it has one. */
function svgElements(svg: string, tag: string, className?: string): Array<Record<string, string>> {
  const found: Array<Record<string, string>> = [];
  for (const match of svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>(?:<title>([^<]*)</title>)?`, 'g'))) {
    const attributes: Record<string, string> = {};
    for (const [, name, value] of match[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)) attributes[name!] = value!;
    if (match[2] !== undefined) attributes.title = match[2];
    if (className === undefined || attributes.class === className) found.push(attributes);
  }
  return found;
}

/** The SVG ellipse's numbers as predict's ellipse, read back from its attributes. */
function ellipseNumbers(element: Record<string, string>): number[] {
  const rotate = /^rotate\(([^ ]+) ([^ ]+) ([^ ]+)\)$/.exec(element.transform ?? '');
  assert.ok(rotate, `ellipse transform ${element.transform} is not rotate(angle cx cy)`);
  assert.equal(Number(rotate[2]), Number(element.cx), 'rotation centre x is the ellipse centre');
  assert.equal(Number(rotate[3]), Number(element.cy), 'rotation centre y is the ellipse centre');
  return [Number(element.cx), Number(element.cy), Number(element.rx), Number(element.ry), Number(rotate[1])];
}

const predictNumbers = (keypoint: Keypoint) => [
  keypoint.x,
  keypoint.y,
  keypoint.ellipse.semiMajor,
  keypoint.ellipse.semiMinor,
  keypoint.ellipse.angle,
];

function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

describe('POST /v1/models/{model}/render', () => {
  let service: RunningService;
  let png: Buffer;
  let input: Buffer;
  beforeAll(async () => {
    // The pixel comparisons below hold this process's event loop for a while; load shedding would
    // then refuse the next request, so it is off here (the render route's own behaviour is not).
    service = await startService({ env: { MAX_EVENT_LOOP_DELAY_MS: '0' } });
    input = inputPixels();
    png = await sharp(input, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png()
      .toBuffer();
  });
  afterAll(async () => service.close());

  const post = (model: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${service.url}/v1/models/${model}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ image: png.toString('base64'), boxes: [BOX], ...body }),
    });

  async function predicted(model: string, options: Record<string, unknown> = {}) {
    const response = await postJson(`${service.url}/v1/models/${model}/predict`, {
      image: png.toString('base64'),
      boxes: [BOX],
      ...options,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.instances[0] as { keypoints: Keypoint[]; views?: Array<{ mirrored: boolean; keypoints: Keypoint[] }> };
  }

  for (const model of ['dots', 'dots-nu']) {
    test(`${model}: the PNG is the input with each mean in its keypoint's colour and nothing drawn away from the overlay`, async () => {
      const response = await post(model, { level: 0.9 });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      const picture = await rawRgb(Buffer.from(await response.arrayBuffer()));
      expect([picture.width, picture.height]).toEqual([WIDTH, HEIGHT]);
      const { keypoints } = await predicted(model, { level: 0.9 });
      assert.equal(keypoints.length, 2);

      const pixel = (x: number, y: number) => {
        const offset = (Math.floor(y) * WIDTH + Math.floor(x)) * 3;
        return [picture.data[offset], picture.data[offset + 1], picture.data[offset + 2]];
      };
      const original = (x: number, y: number) => {
        const offset = (Math.floor(y) * WIDTH + Math.floor(x)) * 3;
        return [input[offset], input[offset + 1], input[offset + 2]];
      };
      for (const keypoint of keypoints) {
        expect(pixel(keypoint.x, keypoint.y), keypoint.name).toEqual(uncertaintyRgb(relativeRmse(keypoint.rmse, BOX)));
        // Both ends of the major and minor axes lie on the outline, so the drawing changed them.
        const theta = (keypoint.ellipse.angle * Math.PI) / 180;
        const { semiMajor, semiMinor } = keypoint.ellipse;
        for (const [along, across] of [
          [semiMajor, 0],
          [-semiMajor, 0],
          [0, semiMinor],
          [0, -semiMinor],
        ] as const) {
          const x = keypoint.x + along * Math.cos(theta) - across * Math.sin(theta);
          const y = keypoint.y + along * Math.sin(theta) + across * Math.cos(theta);
          expect(pixel(x, y), `${keypoint.name} outline at (${x.toFixed(1)}, ${y.toFixed(1)})`).not.toEqual(original(x, y));
        }
      }

      const unit = strokeUnit(WIDTH, HEIGHT);
      const legend = legendRect(WIDTH, HEIGHT);
      assert.ok(legend, 'a 480×360 image has room for the legend');
      const [left, right] = keypoints as [Keypoint, Keypoint];
      const reach = 2 * unit + 1.5;
      const nearOverlay = (x: number, y: number) =>
        keypoints.some((k) => Math.hypot(x - k.x, y - k.y) <= Math.max(k.ellipse.semiMajor, DOT_RADIUS_UNITS * unit) + reach) ||
        distanceToSegment(x, y, left.x, left.y, right.x, right.y) <= reach ||
        [
          [BOX.x, BOX.y, BOX.x + BOX.width, BOX.y],
          [BOX.x + BOX.width, BOX.y, BOX.x + BOX.width, BOX.y + BOX.height],
          [BOX.x, BOX.y + BOX.height, BOX.x + BOX.width, BOX.y + BOX.height],
          [BOX.x, BOX.y, BOX.x, BOX.y + BOX.height],
        ].some(([ax, ay, bx, by]) => distanceToSegment(x, y, ax!, ay!, bx!, by!) <= reach) ||
        (x >= legend.x - 1.5 && x <= legend.x + legend.width + 1.5 && y >= legend.y - 1.5 && y <= legend.y + legend.height + 1.5);
      let compared = 0;
      const changed: string[] = [];
      for (let row = 0; row < HEIGHT; row++) {
        for (let column = 0; column < WIDTH; column++) {
          if (nearOverlay(column + 0.5, row + 0.5)) continue;
          compared++;
          const offset = (row * WIDTH + column) * 3;
          if (!picture.data.subarray(offset, offset + 3).equals(input.subarray(offset, offset + 3)))
            changed.push(`(${column}, ${row})`);
        }
      }
      expect(changed.slice(0, 10)).toEqual([]);
      expect(compared).toBeGreaterThan(0.6 * WIDTH * HEIGHT);
    });

    test(`${model}: the SVG's ellipses, means and views are predict's numbers for the same request`, async () => {
      const options = { level: 0.5, includeViews: true, fusion: 'mean' };
      const response = await post(model, { ...options, format: 'svg' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/svg+xml');
      // The fixtures are demonstration weights; the picture and the response both say so.
      expect(response.headers.get('x-model-trained')).toBe('false');
      const svgBytes = Buffer.from(await response.arrayBuffer());
      const svg = svgBytes.toString('utf8');
      const { keypoints, views } = await predicted(model, options);
      assert.ok(views && views.length === 2);

      const root = svgElements(svg, 'svg')[0]!;
      expect(root.viewBox).toBe(`0 0 ${WIDTH} ${HEIGHT}`);
      const embedded = svgElements(svg, 'image', 'input')[0]!;
      assert.match(embedded.href!, /^data:image\/png;base64,/);
      const background = await rawRgb(Buffer.from(embedded.href!.split(',')[1]!, 'base64'));
      assert.ok(background.data.equals(input), 'the embedded image is the input, pixel for pixel');

      expect(svg).toContain('untrained model');
      const ellipses = svgElements(svg, 'ellipse', 'uncertainty');
      expect(ellipses.map(ellipseNumbers)).toBeCloseToNested(keypoints.map(predictNumbers), { rel: 1e-12, abs: 1e-12 });
      expect(ellipses.map((element) => element.title!.split('\n')[0])).toEqual(keypoints.map((k) => k.name));
      const means = svgElements(svg, 'circle', 'mean');
      expect(means.map((element) => [Number(element.cx), Number(element.cy)])).toBeCloseToNested(
        keypoints.map((k) => [k.x, k.y]),
        { rel: 1e-12, abs: 1e-12 },
      );
      for (const [index, view] of views.entries()) {
        const drawn = svgElements(svg, 'ellipse', `view ${view.mirrored ? 'mirrored' : 'original'}`);
        expect(drawn.map(ellipseNumbers), `view ${index}`).toBeCloseToNested(view.keypoints.map(predictNumbers), {
          rel: 1e-12,
          abs: 1e-12,
        });
      }
      const [line] = svgElements(svg, 'line', 'edge');
      expect([line!.x1, line!.y1, line!.x2, line!.y2].map(Number)).toBeCloseToNested(
        [keypoints[0]!.x, keypoints[0]!.y, keypoints[1]!.x, keypoints[1]!.y],
        { abs: 1e-12 },
      );

      // librsvg (through sharp) reads it as an image of the input's size: the document parses.
      const metadata = await sharp(svgBytes).metadata();
      expect([metadata.format, metadata.width, metadata.height]).toEqual(['svg', WIDTH, HEIGHT]);
    });
  }

  test('multipart input with every option and a format field answers JPEG of the input size', async () => {
    const form = new FormData();
    form.set('image', new Blob([png], { type: 'image/png' }), 'dots.png');
    form.set('boxes', JSON.stringify([BOX]));
    form.set('tta', 'false');
    form.set('fusion', 'mean');
    form.set('level', '0.8');
    form.set('includeViews', 'true');
    form.set('format', 'jpeg');
    const response = await fetch(`${service.url}/v1/models/dots/render`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    const metadata = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['jpeg', WIDTH, HEIGHT]);
  });

  test('Accept chooses the format unless a format field is sent; an Accept that allows none is 406', async () => {
    const typeFor = async (headers: Record<string, string>, body: Record<string, unknown> = {}) =>
      (await post('dots', { tta: false, ...body }, headers)).headers.get('content-type');
    expect(await typeFor({ accept: 'image/svg+xml' })).toBe('image/svg+xml');
    expect(await typeFor({ accept: 'image/jpeg;q=0.9, image/png;q=0.5' })).toBe('image/jpeg');
    expect(await typeFor({ accept: '*/*' })).toBe('image/png');
    expect(await typeFor({ accept: 'image/svg+xml' }, { format: 'png' })).toBe('image/png');
    const refused = await post('dots', {}, { accept: 'application/json' });
    expect(refused.status).toBe(406);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/application\/json/);
  });

  test('an EXIF-rotated JPEG is drawn upright at its oriented size, with no orientation tag left', async () => {
    // Stored 480×360 with orientation 6 (rotate 90° clockwise to view): the oriented image is 360×480.
    const jpeg = await sharp(input, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const box = { x: 40, y: 100, width: 280, height: 260 };
    const response = await fetch(`${service.url}/v1/models/dots/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: jpeg.toString('base64'), boxes: [box] }),
    });
    expect(response.status).toBe(200);
    const metadata = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([metadata.width, metadata.height, metadata.orientation]).toEqual([HEIGHT, WIDTH, undefined]);
  });

  test.each([
    ['an unknown model', 'nonexistent', {}, 404],
    ['a box outside the image', 'dots', { boxes: [{ x: 5000, y: 10, width: 20, height: 20 }] }, 422],
    ['an image that is not base64', 'dots', { image: '%%%not base64%%%' }, 400],
    ['a format render does not make', 'dots', { format: 'gif' }, 400],
    ['an option predict refuses', 'dots', { level: 1.5 }, 400],
  ])('%s is refused as predict refuses it, in problem+json', async (_label, model, body, status) => {
    const response = await post(model, body);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { status: number };
    expect(problem.status).toBe(status);
    if (model === 'dots') {
      const predictResponse = await postJson(`${service.url}/v1/models/dots/predict`, {
        image: png.toString('base64'),
        boxes: [BOX],
        ...body,
        format: undefined,
      });
      if (!('format' in body)) expect(predictResponse.status).toBe(status);
    }
  });
});
