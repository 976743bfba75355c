import request from 'supertest';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dotImage } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';

const route = '/v1/models/dots/predict';
const goodBox = { x: 10, y: 10, width: 60, height: 40 };

describe('strict input: what a client sends is what is checked', () => {
  let service: RunningService;
  let image: Buffer;
  beforeAll(async () => {
    service = await startService();
    image = await dotImage(120, 80, [
      { x: 30, y: 30, sigma: 2 },
      { x: 50, y: 30, sigma: 2 },
    ]);
  });
  afterAll(async () => service.close());

  const refusedJson = [
    ['a null coordinate', { ...goodBox, x: null }, '/boxes/0/x'],
    ['a numeric string', { ...goodBox, y: '90' }, '/boxes/0/y'],
    ['a boolean width', { ...goodBox, width: true }, '/boxes/0/width'],
    ['an array height', { ...goodBox, height: [40] }, '/boxes/0/height'],
  ] as const;
  for (const [what, box, path] of refusedJson) {
    test(`JSON: ${what} is 400 naming ${path}`, async () => {
      const response = await request(service.url)
        .post(route)
        .send({ image: image.toString('base64'), boxes: [box] });
      expect(response.status).toBe(400);
      expect(response.type).toBe('application/problem+json');
      expect(response.body.errors.map((error: { path: string }) => error.path)).toContain(path);
    });
  }

  test('JSON: options are not coerced either ("tta": "false", "level": "0.9")', async () => {
    for (const options of [{ tta: 'false' }, { level: '0.9' }, { includeViews: 1 }]) {
      const response = await request(service.url)
        .post(route)
        .send({ image: image.toString('base64'), boxes: [goodBox], ...options });
      expect(response.status).toBe(400);
      expect(response.body.errors[0].path).toBe(`/${Object.keys(options)[0]}`);
    }
  });

  test('JSON: the same request with proper types is answered', async () => {
    const response = await request(service.url)
      .post(route)
      .send({ image: image.toString('base64'), boxes: [goodBox], tta: false, level: 0.9 });
    expect(response.status).toBe(200);
    expect(response.body.instances[0].box).toEqual(goodBox);
    expect(response.body.instances[0].keypoints[0].ellipse.level).toBe(0.9);
  });

  test('multipart: fields are parsed exactly (true/false, decimal numbers, JSON boxes)', async () => {
    const response = await request(service.url)
      .post(route)
      .attach('image', image, 'dots.png')
      .field('boxes', JSON.stringify([goodBox]))
      .field('tta', 'false')
      .field('level', '0.5');
    expect(response.status).toBe(200);
    expect(response.body.instances[0].keypoints[0].ellipse.level).toBe(0.5);
    expect(response.body.instances[0].views).toBeUndefined();
  });

  const refusedFields = [
    ['tta', 'yes'],
    ['tta', '1'],
    ['includeViews', 'TRUE'],
    ['level', '0.9x'],
    ['level', ''],
    ['level', 'Infinity'],
  ] as const;
  for (const [field, value] of refusedFields) {
    test(`multipart: ${field}=${JSON.stringify(value)} is 400 naming the field`, async () => {
      const response = await request(service.url).post(route).attach('image', image, 'dots.png').field(field, value);
      expect(response.status).toBe(400);
      expect(response.body.detail).toContain(`field "${field}"`);
    });
  }

  test('multipart: a box with a string coordinate inside the boxes JSON is 400 naming it', async () => {
    const response = await request(service.url)
      .post(route)
      .attach('image', image, 'dots.png')
      .field('boxes', JSON.stringify([{ ...goodBox, x: '10' }]));
    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toContain('/boxes/0/x');
  });

  test('headers stay text by nature: x-request-deadline-ms "5000" is read as a number', async () => {
    const response = await request(service.url)
      .post(route)
      .set('x-request-deadline-ms', '5000')
      .send({ image: image.toString('base64'), boxes: [goodBox] });
    expect(response.status).toBe(200);
  });
});
