import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import request from 'supertest';
import { BROKEN_MODEL_KINDS } from '../helpers/fixture-models.js';
import { startService, type RunningService } from '../helpers/service.js';

/**
 * Why this machine cannot run ONNX Runtime's CUDA provider, as the service should report it, or null
 * when it can: the provider library that ONNXRUNTIME_NODE_INSTALL=cuda12 installs, and an NVIDIA driver.
 */
function cudaMissingReason(): RegExp | null {
  const runtime = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const provider = path.join(runtime, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  if (!existsSync(provider)) return /onnxruntime-node has no CUDA provider \(.*libonnxruntime_providers_cuda\.so is missing/;
  if (!['/proc/driver/nvidia/version', '/dev/nvidiactl'].some((file) => existsSync(file))) return /no NVIDIA driver found/;
  return null;
}
const cudaMissing = cudaMissingReason();

describe('model repository: listing, load failures and readiness', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], broken: BROKEN_MODEL_KINDS, env: { EXECUTION_PROVIDERS: 'cuda,cpu' } });
  });
  afterAll(async () => service.close());

  test('GET /v1/models lists every folder with its state; broken ones say why', async () => {
    const response = await request(service.url).get('/v1/models');
    assert.equal(response.status, 200);
    const { models } = response.body as { models: any[] };
    const byName = new Map(models.map((model) => [model.name, model]));
    assert.equal(byName.get('dots').state, 'ready');
    assert.equal(byName.get('dots').trained, false);
    const expectations: Record<string, RegExp> = {
      'broken-corrupt-onnx':
        /no execution provider could open .*broken-corrupt-onnx\/model\.onnx .*cpu: Load model from .* failed:Protobuf parsing failed/,
      'broken-truncated-onnx':
        /no execution provider could open .*broken-truncated-onnx\/model\.onnx .*cpu: Load model from .* failed:Protobuf parsing failed/,
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

  test('EXECUTION_PROVIDERS=cuda,cpu runs on CUDA where it can, else falls back to CPU and says why', async () => {
    const response = await request(service.url).get('/v1/models/dots');
    const model = response.body;
    if (cudaMissing === null) {
      assert.equal(model.executionProvider, 'cuda');
      assert.deepEqual(model.executionProviderFallbacks, []);
    } else {
      assert.equal(model.executionProvider, 'cpu');
      assert.equal(model.executionProviderFallbacks.length, 1);
      assert.equal(model.executionProviderFallbacks[0].provider, 'cuda');
      assert.match(model.executionProviderFallbacks[0].reason, cudaMissing);
    }
  });

  test('GET /v1/models/{model}: manifest plus runtime facts', async () => {
    const model = (await request(service.url).get('/v1/models/dots')).body;
    assert.equal(model.manifest.name, 'dots');
    assert.deepEqual(model.inputs[0].shape.slice(1), [3, 64, 64]);
    assert.equal(typeof model.inputs[0].shape[0], 'string');
    assert.deepEqual(model.outputs[0].shape.slice(1), [10]);
    // κ_2(1) from SPEC §1.
    expect(model.kappa).toBeCloseToNested(3.076474, { abs: 1e-5 });
  });

  test('a failed model answers predict with 503 naming the reason; the good one still serves', async () => {
    const response = await request(service.url).post('/v1/models/broken-missing-onnx/predict').send({ image: 'AAAA' });
    assert.equal(response.status, 503);
    assert.match(response.body.detail, /failed to load/);
  });

  test('readyz is 200 with the states once loading is over; healthz is 200', async () => {
    const ready = await request(service.url).get('/readyz');
    assert.equal(ready.status, 200);
    const body = ready.body;
    assert.equal(body.models.dots, 'ready');
    assert.equal(body.models['broken-corrupt-onnx'], 'failed');
    assert.equal((await request(service.url).get('/healthz')).status, 200);
  });

  test('model info metric carries the provider and state', async () => {
    const { text } = await request(service.url).get('/metrics');
    assert.match(
      text,
      /huber_model_info\{model="dots",version="1",trained="false",execution_provider="cpu",precision="fp32",state="ready"\} 1/,
    );
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

  test('EXECUTION_PROVIDERS=cuda alone serves on CUDA, or fails the model saying why where there is no CUDA', async () => {
    const service = await startService({ models: ['dots'], env: { EXECUTION_PROVIDERS: 'cuda' } });
    try {
      const model = service.app.models.entries.get('dots')!;
      if (cudaMissing === null) {
        assert.equal(model.state, 'ready', model.error ?? undefined);
        return;
      }
      assert.equal(model.state, 'failed');
      assert.match(model.error!, /no execution provider could open .* \(cuda: /);
      assert.match(model.error!, cudaMissing);
    } finally {
      await service.close();
    }
  });
});
