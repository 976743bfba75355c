import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'vitest';
import { retryAfterMs, retryingFetch } from '../../../tools/evaluate/retrying-fetch.js';

describe('503 with Retry-After', () => {
  test('Retry-After is read as seconds or as an HTTP date; anything else is not a delay', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs(' 0 '), 0);
    const now = Date.parse('Wed, 02 Dec 2026 06:00:00 GMT');
    assert.equal(retryAfterMs('Wed, 02 Dec 2026 06:00:03 GMT', now), 3000);
    assert.equal(retryAfterMs('Wed, 02 Dec 2026 05:59:00 GMT', now), 0);
    assert.equal(retryAfterMs(null), null);
    assert.equal(retryAfterMs('soon'), null);
    assert.equal(retryAfterMs('-1'), null);
  });

  test('a request answered 503 is sent again with the same body until it succeeds, and given up after the attempt limit', async () => {
    const bodies: string[] = [];
    let unavailable = 2;
    const server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        if (unavailable-- > 0 || request.url === '/always-busy') {
          response.writeHead(503, { 'retry-after': '0' }).end('busy');
        } else {
          response.writeHead(200).end('done');
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const delays: number[] = [];
      const send = retryingFetch({
        maxAttempts: 4,
        maxDelayMs: 50,
        defaultDelayMs: 10,
        onRetry: (_request, delay) => delays.push(delay),
      });
      const form = new FormData();
      form.append('boxes', '[{"x":1}]');
      const ok = await send(new Request(`${base}/predict`, { method: 'POST', body: form }));
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'done');
      assert.equal(bodies.length, 3);
      assert.ok(bodies.every((body) => body.includes('[{"x":1}]') && body === bodies[0]));
      assert.deepEqual(delays, [0, 0]);

      bodies.length = 0;
      const busy = await send(new Request(`${base}/always-busy`, { method: 'POST', body: 'x' }));
      assert.equal(busy.status, 503);
      assert.equal(bodies.length, 4);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
