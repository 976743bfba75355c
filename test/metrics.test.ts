import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import { dotImage } from './helpers/images.js';
import { startService, type RunningService } from './helpers/service.js';
import { requireTool } from './helpers/required-tool.js';

/** Parses the text exposition into sample lines keyed by name and label set. */
function samples(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `unparsable exposition line: ${line}`);
    result.set(match[1]!, Number(match[2]));
  }
  return result;
}

describe('GET /metrics', () => {
  let service: RunningService;
  let text: string;
  beforeAll(async () => {
    service = await startService({ models: ['dots'] });
    const png = await dotImage(320, 240, [
      { x: 100, y: 120, sigma: 4 },
      { x: 220, y: 110, sigma: 4 },
    ]);
    for (let i = 0; i < 3; i++) {
      const response = await request(service.url)
        .post('/v1/models/dots/predict')
        .send({
          image: png.toString('base64'),
          boxes: [{ x: 40, y: 40, width: 240, height: 160 }],
        });
      assert.equal(response.status, 200);
    }
    await request(service.url)
      .post('/v1/models/nope/predict')
      .send({ image: png.toString('base64') });
    const response = await fetch(`${service.url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    text = await response.text();
  });
  afterAll(async () => service.close());

  test('counts requests by route and status, and times every stage', () => {
    const values = samples(text);
    assert.equal(values.get('huber_http_requests_total{route="/v1/models/:model/predict",method="POST",status="200"}'), 3);
    assert.equal(values.get('huber_http_requests_total{route="/v1/models/:model/predict",method="POST",status="404"}'), 1);
    for (const stage of ['decode', 'queue', 'inference', 'postprocess']) {
      const count = values.get(`huber_stage_duration_seconds_count{model="dots",stage="${stage}"}`) ?? 0;
      assert.ok(count >= 3, `stage ${stage} observed ${count} times`);
    }
    assert.equal(values.get('huber_predicted_instances_total{model="dots"}'), 3);
    // Two keypoints a box, three boxes, every one with a TTA fusion and an uncertainty observation.
    assert.equal(values.get('huber_predicted_relative_rmse_count{model="dots"}'), 6);
    assert.equal(values.get('huber_fusion_iterations_count{model="dots"}'), 6);
    assert.ok((values.get('huber_inference_batch_size_count{model="dots"}') ?? 0) >= 3);
    // Read at scrape time: nothing is waiting once the requests have been answered.
    assert.equal(values.get('huber_queue_depth{model="dots"}'), 0);
    assert.ok(values.has('process_resident_memory_bytes'));
  });

  test('no gauge carries a counter suffix', () => {
    assert.doesNotMatch(text, /^# TYPE \S+_total gauge$/m);
  });

  test('the exposition passes promtool check metrics', async () => {
    await requireTool('promtool');
    const child = execFile('promtool', ['check', 'metrics']);
    const output: string[] = [];
    child.stdout?.on('data', (chunk) => output.push(String(chunk)));
    child.stderr?.on('data', (chunk) => output.push(String(chunk)));
    child.stdin?.end(text);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, output.join(''));
  });
});
