import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { BROKEN_MODEL_KINDS } from '../helpers/fixture-models.js';
import { startService, type RunningService } from '../helpers/service.js';

describe('model repository: listing, load failures and readiness', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], broken: BROKEN_MODEL_KINDS, env: { EXECUTION_PROVIDERS: 'cuda,cpu' } });
  });
  afterAll(async () => service.close());

  test('GET /v1/models lists every folder with its state; broken ones say why', async () => {
    const response = await fetch(`${service.url}/v1/models`);
    assert.equal(response.status, 200);
    const { models } = (await response.json()) as { models: any[] };
    const byName = new Map(models.map((model) => [model.name, model]));
    assert.equal(byName.get('dots').state, 'ready');
    assert.equal(byName.get('dots').trained, false);
    const expectations: Record<string, RegExp> = {
      'broken-corrupt-onnx': /./,
      'broken-truncated-onnx': /./,
      'broken-missing-onnx': /model\.onnx does not exist/,
      'broken-wrong-output-width': /expected \[N, 15\].*3 keypoints/,
      'broken-wrong-input-name': /input\.name "image" is not an input/,
      'broken-wrong-output-name': /output\.name "logits" is not an output/,
      'broken-wrong-input-size': /expected \[N, 3, 32, 32\]/,
      'broken-invalid-manifest': /invalid manifest: \/distribution\/parameterization/,
      'broken-unparsable-manifest': /manifest\.json: .*JSON/,
    };
    for (const [name, pattern] of Object.entries(expectations)) {
      const model = byName.get(name);
      assert.ok(model, `${name} is listed`);
      assert.equal(model.state, 'failed', name);
      assert.match(model.error, pattern, name);
    }
  });

  test('a CUDA request on a machine without CUDA falls back to CPU and says why', async () => {
    const response = await fetch(`${service.url}/v1/models/dots`);
    const model = (await response.json()) as any;
    assert.equal(model.executionProvider, 'cpu');
    assert.equal(model.executionProviderFallbacks.length, 1);
    assert.equal(model.executionProviderFallbacks[0].provider, 'cuda');
    assert.ok(model.executionProviderFallbacks[0].reason.length > 0);
  });

  test('GET /v1/models/{model}: manifest plus runtime facts', async () => {
    const model = (await (await fetch(`${service.url}/v1/models/dots`)).json()) as any;
    assert.equal(model.manifest.name, 'dots');
    assert.deepEqual(model.inputs[0].shape.slice(1), [3, 64, 64]);
    assert.equal(typeof model.inputs[0].shape[0], 'string');
    assert.deepEqual(model.outputs[0].shape.slice(1), [10]);
    // κ_2(1) from SPEC §1.
    assert.ok(Math.abs(model.kappa - 3.076474) < 1e-5, String(model.kappa));
  });

  test('a failed model answers predict with 503 naming the reason; the good one still serves', async () => {
    const response = await fetch(`${service.url}/v1/models/broken-missing-onnx/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'AAAA' }),
    });
    assert.equal(response.status, 503);
    assert.match(((await response.json()) as any).detail, /failed to load/);
  });

  test('readyz is 200 with the states once loading is over; healthz is 200', async () => {
    const ready = await fetch(`${service.url}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as any;
    assert.equal(body.models.dots, 'ready');
    assert.equal(body.models['broken-corrupt-onnx'], 'failed');
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
  });

  test('model info metric carries the provider and state', async () => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(text, /huber_model_info\{model="dots",version="1",trained="false",execution_provider="cpu",precision="fp32",state="ready"\} 1/);
    assert.match(text, /huber_model_info\{model="broken-corrupt-onnx",[^}]*state="failed"\} 1/);
  });
});

describe('readiness before loading', () => {
  test('readyz is 503 until models are loaded, and an empty repository is never ready', async () => {
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const app = await buildApp(loadConfig({ MODEL_REPOSITORY: '/nonexistent', LOG_LEVEL: 'silent' }));
    const response = await app.inject({ url: '/readyz' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().status, 'not-ready');
    await app.close();
  });

  test('EXECUTION_PROVIDERS=cuda alone fails the model where there is no CUDA', async () => {
    const service = await startService({ models: ['dots'], env: { EXECUTION_PROVIDERS: 'cuda' } });
    try {
      const model = service.app.models.entries.get('dots')!;
      assert.equal(model.state, 'failed');
      assert.match(model.error!, /no execution provider could open .* \(cuda: /);
    } finally {
      await service.close();
    }
  });
});
