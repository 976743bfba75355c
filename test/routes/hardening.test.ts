import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import request from 'supertest';
import { buildMetricsApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { dotImage } from '../helpers/images.js';
import { startService } from '../helpers/service.js';

async function dotsPng() {
  return dotImage(320, 240, [
    { x: 100, y: 120, sigma: 4 },
    { x: 220, y: 110, sigma: 4 },
  ]);
}

/** Starts the request at once (supertest is lazy until awaited), so callers can hold several in flight. */
async function predict(url: string, model: string, body: object, headers: Record<string, string> = {}) {
  return request(url).post(`/v1/models/${model}/predict`).set(headers).send(body);
}

describe('bearer-token authentication', () => {
  test('predict and model routes need the token; health, readiness and metrics do not', async () => {
    const service = await startService({ models: ['dots'], env: { AUTH_TOKEN: 's3cret-token' } });
    try {
      const image = (await dotsPng()).toString('base64');
      const missing = await predict(service.url, 'dots', { image });
      assert.equal(missing.status, 401);
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      assert.match(missing.body.detail, /needs an Authorization: Bearer token/);
      const wrong = await predict(service.url, 'dots', { image }, { authorization: 'Bearer s3cret-tokem' });
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.detail, /not valid/);
      const right = await predict(service.url, 'dots', { image }, { authorization: 'Bearer s3cret-token' });
      assert.equal(right.status, 200);
      // The scheme name is case-insensitive; the token is not.
      const lower = await predict(service.url, 'dots', { image }, { authorization: 'bearer s3cret-token' });
      assert.equal(lower.status, 200);
      assert.equal((await predict(service.url, 'dots', { image }, { authorization: 'Bearer S3CRET-TOKEN' })).status, 401);
      assert.equal((await request(service.url).get('/v1/models')).status, 401);
      assert.equal((await request(service.url).get('/v1/models').set({ authorization: 'Bearer s3cret-token' })).status, 200);
      for (const open of ['/healthz', '/readyz', '/metrics'])
        assert.equal((await request(service.url).get(`${open}`)).status, 200, open);
    } finally {
      await service.close();
    }
  });
});

describe('headers, CORS and the metrics port', () => {
  test('security headers on every response; no CORS unless configured', async () => {
    const service = await startService({ models: ['dots'] });
    try {
      const response = await request(service.url).get('/v1/models').set({ origin: 'https://example.org' });
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      // Helmet's defaults: same-origin resources only, no plugins.
      assert.match(response.headers['content-security-policy'] ?? '', /(^|;)default-src 'self'(;|$)/);
      assert.match(response.headers['content-security-policy'] ?? '', /(^|;)object-src 'none'(;|$)/);
      assert.equal(response.headers['access-control-allow-origin'], undefined);
    } finally {
      await service.close();
    }
  });

  test('CORS_ORIGINS allows exactly the listed origins', async () => {
    const service = await startService({ models: ['dots'], env: { CORS_ORIGINS: 'https://app.example.org' } });
    try {
      const allowed = await request(service.url).get('/v1/models').set({ origin: 'https://app.example.org' });
      assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.org');
      const other = await request(service.url).get('/v1/models').set({ origin: 'https://evil.example.org' });
      assert.notEqual(other.headers['access-control-allow-origin'], 'https://evil.example.org');
    } finally {
      await service.close();
    }
  });

  test('METRICS_PORT moves /metrics off the API port', async () => {
    const service = await startService({ models: ['dots'], env: { METRICS_PORT: '9464' } });
    const metricsApp = buildMetricsApp(service.app.metrics, loadConfig({}));
    try {
      assert.equal((await request(service.url).get('/metrics')).status, 404);
      const address = await metricsApp.listen({ port: 0, host: '127.0.0.1' });
      const { text } = await request(address).get('/metrics');
      assert.match(text, /huber_model_info\{model="dots"/);
      assert.equal((await request(address).get('/v1/models')).status, 404);
    } finally {
      await metricsApp.close();
      await service.close();
    }
  });
});

describe('overload and deadlines', () => {
  test('a full queue answers 503 with Retry-After at once; the rest are served', async () => {
    const service = await startService({
      models: ['resnet18-huber-tiny'],
      env: { MAX_QUEUE_CROPS: '2', MAX_BATCH_SIZE: '1', MAX_BATCH_WAIT_MS: '0' },
    });
    try {
      const image = (await dotsPng()).toString('base64');
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => predict(service.url, 'resnet18-huber-tiny', { image })),
      );
      const statuses = responses.map((response) => response.status);
      assert.ok(
        statuses.every((status) => status === 200 || status === 503),
        statuses.join(','),
      );
      assert.ok(statuses.includes(200), statuses.join(','));
      const refused = responses.find((response) => response.status === 503);
      assert.ok(refused, `expected a 503 among ${statuses.join(',')}`);
      assert.equal(refused.headers['retry-after'], '1');
      assert.match(refused.body.detail, /crops queued .* past the limit of 2/);
    } finally {
      await service.close();
    }
  });

  test('a deadline that passes before inference is answered 504 and nothing reaches the model', async () => {
    const service = await startService({ models: ['dots'] });
    try {
      const big = await dotImage(1200, 900, [{ x: 300, y: 400, sigma: 6 }]);
      const before = await service.app.metrics.batchSize.get();
      const response = await predict(service.url, 'dots', { image: big.toString('base64') }, { 'x-request-deadline-ms': '1' });
      assert.equal(response.status, 504);
      assert.match(response.body.detail, /deadline passed/);
      const after = await service.app.metrics.batchSize.get();
      const count = (metric: typeof before) =>
        metric.values.find((value) => value.metricName === 'huber_inference_batch_size_count')?.value ?? 0;
      assert.equal(count(after), count(before));
    } finally {
      await service.close();
    }
  });
});

describe('deadlines while queued', () => {
  test('a request whose deadline passes in the queue gets 504 and its crops never run', async () => {
    const service = await startService({
      models: ['resnet18-huber-tiny'],
      env: { MAX_BATCH_SIZE: '2', MAX_BATCH_WAIT_MS: '0', MAX_QUEUE_CROPS: '64' },
    });
    try {
      const served = service.app.models.entries.get('resnet18-huber-tiny')!.served!;
      const image = (await dotsPng()).toString('base64');
      const crops: number[] = [];
      served.batcher.onBatch((event) => crops.push(event.size));
      // Three boxes each, two views: 48 crops ahead, seconds of work on a CI machine.
      const boxes = Array.from({ length: 3 }, () => ({ x: 40, y: 40, width: 160, height: 160 }));
      const ahead = Array.from({ length: 8 }, () => predict(service.url, 'resnet18-huber-tiny', { image, boxes }));
      while (served.batcher.depth < 32) await new Promise((resolve) => setTimeout(resolve, 2));
      // At least 16 batches are ahead of it. Its 400 ms run out long before they finish, yet leave
      // decoding a 320 × 240 PNG ample time even on a loaded machine (50 ms once did not).
      const late = await predict(service.url, 'resnet18-huber-tiny', { image }, { 'x-request-deadline-ms': '400' });
      assert.equal(late.status, 504);
      assert.match(late.body.detail, /waited for a batch/);
      for (const response of await Promise.all(ahead)) {
        assert.equal(response.status, 200);
      }
      assert.equal(
        crops.reduce((sum, size) => sum + size, 0),
        48,
        'only the eight on-time requests reached the model',
      );
    } finally {
      await service.close();
    }
  });
});

describe('worker faults', () => {
  test('a killed worker is replaced and requests keep being answered (200, or 503 for any it held)', async () => {
    const service = await startService({ models: ['resnet18-huber-tiny'] });
    try {
      const served = service.app.models.entries.get('resnet18-huber-tiny')!.served!;
      const image = (await dotsPng()).toString('base64');
      const victim = served.runner.threads[0]!;
      // Terminated while idle: a thread stopped inside a native ONNX Runtime run would abort the process (see WorkerPool).
      await victim.terminate();
      const responses = await Promise.all(
        Array.from({ length: 4 }, () => predict(service.url, 'resnet18-huber-tiny', { image })),
      );
      for (const response of responses) {
        assert.ok(response.status === 200 || response.status === 503, String(response.status));
        if (response.status === 503) assert.match(response.body.detail, /inference failed .* retry/);
      }
      assert.notEqual(served.runner.threads[0], victim);
      const later = await predict(service.url, 'resnet18-huber-tiny', { image });
      assert.equal(later.status, 200);
      const replaced = (await service.app.metrics.workerReplacements.get()).values.find(
        (value) => value.labels.reason === 'crash',
      );
      assert.equal(replaced?.value, 1);
    } finally {
      await service.close();
    }
  });

  test('a batch that overruns INFERENCE_TIMEOUT_MS fails with 503 at once; the worker is replaced and small batches succeed', async () => {
    const service = await startService({
      models: ['resnet18-huber-tiny'],
      // The limit leaves room for the warm-up batch of two crops, which on a busy 2-core machine took over 600 ms.
      env: { INFERENCE_TIMEOUT_MS: '1500', MAX_BATCH_SIZE: '128', MAX_QUEUE_CROPS: '256', MAX_BOXES: '64' },
    });
    try {
      const entry = service.app.models.entries.get('resnet18-huber-tiny')!;
      assert.equal(entry.state, 'ready', entry.error ?? undefined);
      const served = entry.served!;
      const before = served.runner.threads[0];
      const image = (await dotsPng()).toString('base64');
      // 128 crops of ResNet18 on one thread take seconds; one crop takes tens of milliseconds.
      const boxes = Array.from({ length: 64 }, (_, index) => ({ x: 10 + index * 3, y: 20, width: 100, height: 100 }));
      const started = Date.now();
      const slow = await predict(service.url, 'resnet18-huber-tiny', { image, boxes });
      assert.equal(slow.status, 503);
      assert.match(slow.body.detail, /inference failed/);
      assert.notEqual(served.runner.threads[0], before, 'the overrunning worker was replaced');
      const fast = await predict(service.url, 'resnet18-huber-tiny', {
        image,
        tta: false,
        boxes: [{ x: 20, y: 20, width: 100, height: 100 }],
      });
      assert.equal(fast.status, 200, `after ${Date.now() - started} ms`);
      assert.equal((await request(service.url).get('/healthz')).status, 200);
    } finally {
      await service.close();
    }
  });
});
