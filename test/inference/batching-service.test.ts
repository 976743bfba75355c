import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import request from 'supertest';
import type { BatchEvent } from '../../src/inference/dynamic-batcher.js';
import { dotImage } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';

type Box = { x: number; y: number; width: number; height: number };

interface Case {
  body: Record<string, unknown>;
}

/** Every number in `actual` within `tolerance` of the one at the same place in `expected`. */
function assertNumbersClose(actual: unknown, expected: unknown, tolerance: number, where = '$'): void {
  if (typeof expected === 'number') {
    expect(actual, where).toBeCloseToNested(expected, { abs: tolerance });
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${where}: length differs`);
    expected.forEach((value, index) => assertNumbersClose((actual as unknown[])[index], value, tolerance, `${where}[${index}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${where}: keys differ`);
    for (const [key, value] of Object.entries(expected))
      assertNumbersClose((actual as Record<string, unknown>)[key], value, tolerance, `${where}.${key}`);
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

/** Twelve different good requests: dots and boxes in different places, one or two boxes, TTA on and off. */
async function goodCases(): Promise<Case[]> {
  const cases: Case[] = [];
  for (let i = 0; i < 12; i++) {
    const box: Box = { x: 20 + 9 * i, y: 15 + 4 * i, width: 120 + 5 * i, height: 100 + 3 * i };
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const image = await dotImage(320, 240, [
      { x: cx - 30 - i, y: cy - 10 + i, sigma: 3 },
      { x: cx + 25 + i, y: cy + 12 - i, sigma: 3 },
    ]);
    const boxes = i % 3 === 0 ? [box, { x: 0, y: 0, width: 320, height: 240 }] : [box];
    cases.push({ body: { image: image.toString('base64'), boxes, tta: i % 2 === 0, includeViews: i % 4 === 0 } });
  }
  return cases;
}

/** What must not change with batching: the response minus its timings. */
function comparable(body: any) {
  const { timings: _timings, ...rest } = body;
  return rest;
}

describe('batching through the HTTP service', () => {
  let batched: RunningService;
  let unbatched: RunningService;
  let cases: Case[];
  beforeAll(async () => {
    // A long wait makes batches form reliably even when requests trickle in from a slow client.
    batched = await startService({ models: ['dots'], env: { MAX_BATCH_SIZE: '8', MAX_BATCH_WAIT_MS: '25' } });
    unbatched = await startService({ models: ['dots'], env: { MAX_BATCH_SIZE: '1', MAX_BATCH_WAIT_MS: '0' } });
    cases = await goodCases();
  });
  afterAll(async () => {
    await batched?.close();
    await unbatched?.close();
  });

  test('concurrent requests share batches, get the unbatched answers, and bad requests among them fail alone', async () => {
    const events: BatchEvent[] = [];
    batched.app.models.entries.get('dots')!.served!.batcher.onBatch((event) => events.push(event));
    const before = await batchSizeTotals(batched);

    const truncated = Buffer.from(cases[1]!.body.image as string, 'base64').subarray(0, 200);
    const bad: Array<{ body: Record<string, unknown>; status: number }> = [
      { body: { image: Buffer.from('definitely not an image').toString('base64') }, status: 415 },
      { body: { image: truncated.toString('base64') }, status: 400 },
      { body: { image: cases[2]!.body.image, boxes: [{ x: 400, y: 10, width: 50, height: 50 }] }, status: 422 },
    ];
    // Bad requests interleaved with good ones, all in flight at once.
    const mixed = [...cases.map((entry) => ({ ...entry, status: 200 }))];
    bad.forEach((entry, index) => mixed.splice(3 + 4 * index, 0, entry));
    const responses = await Promise.all(
      mixed.map((entry) => request(batched.url).post('/v1/models/dots/predict').send(entry.body)),
    );

    const reference: request.Response[] = [];
    for (const entry of cases) reference.push(await request(unbatched.url).post('/v1/models/dots/predict').send(entry.body));

    let good = 0;
    mixed.forEach((entry, index) => {
      const response = responses[index]!;
      assert.equal(response.status, entry.status, `request ${index}: ${JSON.stringify(response.body).slice(0, 300)}`);
      if (entry.status !== 200) {
        assert.match(response.type, /application\/problem\+json/);
        return;
      }
      const expected = reference[good++]!;
      assert.equal(expected.status, 200);
      assertNumbersClose(comparable(response.body), comparable(expected.body), 1e-4);
    });
    assert.equal(good, cases.length);

    assert.ok(
      events.some((event) => event.size > 1 && event.submissions > 1),
      `batch sizes ${events.map((event) => `${event.size}/${event.submissions}`)}`,
    );
    assert.ok(events.every((event) => event.size <= 8));
    // The exported metric sees the same batches.
    const after = await batchSizeTotals(batched);
    const crops = cases.reduce((sum, entry) => sum + (entry.body.boxes as Box[]).length * (entry.body.tta ? 2 : 1), 0);
    assert.equal(after.sum - before.sum, crops);
    assert.equal(after.count - before.count, events.length);
    assert.ok((after.sum - before.sum) / (after.count - before.count) > 1);
  });
});

async function batchSizeTotals(service: RunningService): Promise<{ sum: number; count: number }> {
  const metric = await service.app.metrics.batchSize.get();
  const find = (suffix: string) =>
    metric.values.find((value) => value.metricName === `huber_inference_batch_size_${suffix}` && value.labels.model === 'dots')
      ?.value ?? 0;
  return { sum: find('sum'), count: find('count') };
}
