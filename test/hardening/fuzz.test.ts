import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import fc from 'fast-check';
import { dotImage } from '../helpers/images.js';
import { sendRaw, startService, type RunningService } from '../helpers/service.js';

// Property-based fuzzing of the predict route over a real socket. Whatever arrives, the answer is a
// 2xx or a problem+json 4xx (503 and, when a deadline header was sent, 504 are the only 5xx allowed),
// and afterwards the process still answers a good request correctly with bounded memory growth.

/** A multipart body: the image file part, then text fields, as supertest's attach and field send them. */
class Multipart {
  constructor(
    readonly image: Uint8Array,
    readonly fields: Array<[string, string]>,
  ) {}
}

interface Sent {
  status: number;
  type: string;
  body: string;
  deadlineSent: boolean;
}

describe('fuzzing the predict route with random bytes, bodies, boxes, options and content types', () => {
  let service: RunningService;
  let png: Buffer;
  let jpeg: Buffer;
  let rssBefore: number;
  const left = { x: 50, y: 60, sigma: 3 };
  const right = { x: 110, y: 58, sigma: 3 };
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    service = await startService({ models: ['dots'], env: { BODY_LIMIT_BYTES: String(512 * 1024), MAX_BOXES: '16' } });
    png = await dotImage(160, 120, [left, right]);
    jpeg = await dotImage(160, 120, [left, right], 'jpeg');
    rssBefore = process.memoryUsage.rss();
  });
  afterAll(async () => service.close());

  async function send(body: string | Multipart | Uint8Array, headers: Record<string, string>, model = 'dots'): Promise<Sent> {
    const path = `/v1/models/${encodeURIComponent(model)}/predict`;
    const response =
      body instanceof Multipart
        ? await body.fields.reduce(
            (sending, [name, value]) => sending.field(name, value),
            request(service.url).post(path).set(headers).attach('image', Buffer.from(body.image), 'image'),
          )
        : await sendRaw(service.url, 'post', path, body, headers);
    const result = {
      status: response.status,
      type: response.headers['content-type'] ?? '',
      body: response.text,
      deadlineSent: 'x-request-deadline-ms' in headers,
    };
    statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
    return result;
  }

  function check(sent: Sent, what: string) {
    const allowed5xx = sent.status === 503 || (sent.status === 504 && sent.deadlineSent);
    assert.ok(sent.status < 500 || allowed5xx, `${what}: ${sent.status} ${sent.body.slice(0, 300)}`);
    if (sent.status >= 200 && sent.status < 300) {
      assert.ok(Array.isArray(JSON.parse(sent.body).instances), `${what}: a 2xx without instances`);
    } else {
      assert.match(sent.type, /^application\/problem\+json/, `${what}: ${sent.status} with ${sent.type}`);
      const problem = JSON.parse(sent.body);
      assert.equal(problem.status, sent.status, what);
      assert.equal(typeof problem.detail, 'string', what);
    }
  }

  const multipart = (image: Uint8Array, fields: Record<string, string> = {}) => new Multipart(image, Object.entries(fields));

  /** A valid image with bytes flipped, cut off or spliced: gets past the format sniffing into the decoders. */
  const damagedImage = fc
    .tuple(
      fc.boolean(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([usePng, flips, cut]) => {
      const bytes = Buffer.from(usePng ? png : jpeg);
      for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask;
      return cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
    });
  const imageBytes = fc.oneof(fc.uint8Array({ maxLength: 4096 }), damagedImage);

  test('random and damaged image bytes, as base64 JSON and as multipart', async () => {
    await fc.assert(
      fc.asyncProperty(imageBytes, fc.boolean(), async (bytes, asJson) => {
        const sent = asJson
          ? await send(JSON.stringify({ image: Buffer.from(bytes).toString('base64') }), { 'content-type': 'application/json' })
          : await send(multipart(bytes), {});
        check(sent, `${bytes.length} bytes as ${asJson ? 'JSON' : 'multipart'}`);
      }),
      { numRuns: 120 },
    );
  });

  test('random JSON documents and random text declared as JSON', async () => {
    const document = fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.anything({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'undefined'),
      fc.object({ maxDepth: 3 }).map((value) => JSON.stringify({ image: png.toString('base64'), ...value })),
      fc.string({ maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(document, async (text) =>
        check(await send(text, { 'content-type': 'application/json' }), `body ${text.slice(0, 120)}`),
      ),
      { numRuns: 100 },
    );
  });

  // Numbers as JSON literals, so that 1e400 (Infinity once parsed), -0 and NaN-ish strings reach the server as written.
  const numberLiteral = fc.oneof(
    fc.integer({ min: -1000, max: 1000 }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
    fc.constantFrom(
      '1e400',
      '-1e400',
      '-0',
      '0',
      '1e308',
      '"NaN"',
      '"Infinity"',
      '"-1"',
      '"12"',
      'null',
      'true',
      '[]',
      '{}',
      '9007199254740993',
    ),
  );
  const boxLiteral = fc.oneof(
    fc
      .record({ x: numberLiteral, y: numberLiteral, width: numberLiteral, height: numberLiteral })
      .map((box) => `{"x":${box.x},"y":${box.y},"width":${box.width},"height":${box.height}}`),
    fc
      .record({
        x: fc.integer({ min: -50, max: 200 }),
        y: fc.integer({ min: -50, max: 150 }),
        width: fc.integer({ min: -5, max: 300 }),
        height: fc.integer({ min: -5, max: 300 }),
      })
      .map((box) => JSON.stringify(box)),
    fc.json({ maxDepth: 2 }),
  );

  test('random box sets: NaN-ish strings, overflowing and huge numbers, negative and zero sizes, too many', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(boxLiteral, { maxLength: 24 }), fc.boolean(), async (boxes, asJson) => {
        const list = `[${boxes.join(',')}]`;
        const sent = asJson
          ? await send(`{"image":"${png.toString('base64')}","boxes":${list},"tta":false}`, {
              'content-type': 'application/json',
            })
          : await send(multipart(png, { boxes: list, tta: 'false' }), {});
        check(sent, `boxes ${list.slice(0, 200)}`);
      }),
      { numRuns: 100 },
    );
  });

  test('random option values, deadline headers, content types and model names', async () => {
    const option = fc.oneof(
      fc.boolean(),
      fc.double(),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('ml', 'mean', 'true', '0.5', '1', '-0', 'NaN'),
      fc.constant(null),
    );
    const contentType = fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/JSON',
        'multipart/form-data',
        'text/plain',
        'image/png',
        'application/octet-stream',
        '',
        '*/*',
        'application/json; charset=utf-16',
      ),
      fc.string({ maxLength: 40 }).filter((value) => /^[\x21-\x7e ]*$/.test(value)),
    );
    const deadline = fc.option(
      fc.oneof(fc.integer({ min: -5, max: 100_000 }).map(String), fc.constantFrom('abc', '1e9', '0', '', '1.5')),
      { nil: undefined },
    );
    const model = fc.oneof(
      fc.constant('dots'),
      fc.constantFrom('../dots', '..%2Fdots', 'dots/../dots', '%00', 'DOTS'),
      fc.string({ minLength: 1, maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({ tta: option, fusion: option, level: option, includeViews: option }, { requiredKeys: [] }),
        fc.boolean(),
        contentType,
        deadline,
        model,
        async (options, asJson, type, deadlineMs, modelName) => {
          const headers: Record<string, string> = {};
          if (deadlineMs !== undefined) headers['x-request-deadline-ms'] = deadlineMs;
          let sent: Sent;
          if (asJson) {
            headers['content-type'] = type;
            sent = await send(JSON.stringify({ image: png.toString('base64'), ...options }), headers, modelName);
          } else {
            const fields = Object.fromEntries(Object.entries(options).map(([key, value]) => [key, String(value)]));
            sent = await send(multipart(png, fields), headers, modelName);
          }
          check(
            sent,
            `options ${JSON.stringify(options)} type ${JSON.stringify(type)} deadline ${deadlineMs} model ${JSON.stringify(modelName)}`,
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  test('afterwards: the process is alive, memory is bounded, and a good request is answered correctly', async () => {
    assert.equal((await request(service.url).get('/healthz')).status, 200);
    const grown = process.memoryUsage.rss() - rssBefore;
    // Generous: V8 heaps and libvips buffers settle at their own sizes; a leak per request would not.
    assert.ok(grown < 256 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB over the fuzzing`);
    const response = await request(service.url)
      .post('/v1/models/dots/predict')
      .send({ image: png.toString('base64'), tta: false });
    assert.equal(response.status, 200);
    const [leftDot, rightDot] = response.body.instances[0].keypoints;
    assert.ok(Math.hypot(leftDot.x - left.x, leftDot.y - left.y) <= 0.5, JSON.stringify(leftDot));
    assert.ok(Math.hypot(rightDot.x - right.x, rightDot.y - right.y) <= 0.5, JSON.stringify(rightDot));
    const seen = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ');
    assert.ok(
      statuses.get(200)! > 0 && [...statuses.keys()].some((status) => status >= 400),
      `both answers and refusals: ${seen}`,
    );
  });
});
