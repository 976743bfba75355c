import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import request from 'supertest';
import { dotPixels } from '../helpers/images.js';
import { sendRaw, startService, type RunningService } from '../helpers/service.js';

type Tensor = { name: string; datatype: string; shape: number[]; data: number[] };

function imageTensor(width: number, height: number, dots: Parameters<typeof dotPixels>[2]) {
  return { name: 'image', datatype: 'UINT8', shape: [height, width, 3], data: [...dotPixels(width, height, dots)] };
}

const output = (body: { outputs: Tensor[] }, name: string) => {
  const tensor = body.outputs.find((candidate) => candidate.name === name);
  assert.ok(tensor, `output ${name} missing from ${body.outputs.map((candidate) => candidate.name).join(', ')}`);
  return tensor;
};

describe('KServe Open Inference Protocol v2', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ models: ['dots'], broken: ['missing-onnx'] });
  });
  afterAll(async () => service.close());

  test('server metadata, liveness and readiness', async () => {
    const metadata = await request(service.url).get('/v2');
    assert.equal(metadata.status, 200);
    assert.equal((metadata.body as { name: string }).name, 'huber-keypoints');
    const live = await request(service.url).get('/v2/health/live');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { live: true });
    const ready = await request(service.url).get('/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
  });

  test('model metadata names the tensors with the keypoint count', async () => {
    const response = await request(service.url).get('/v2/models/dots');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      name: 'dots',
      versions: ['1'],
      platform: 'onnxruntime',
      inputs: [
        { name: 'image', datatype: 'UINT8', shape: [-1, -1, 3] },
        { name: 'boxes', datatype: 'FP32', shape: [-1, 4] },
      ],
      outputs: [
        { name: 'keypoints', datatype: 'FP32', shape: [-1, 2, 2] },
        { name: 'covariance', datatype: 'FP32', shape: [-1, 2, 2, 2] },
        { name: 'ellipse', datatype: 'FP32', shape: [-1, 2, 3] },
        { name: 'rmse', datatype: 'FP32', shape: [-1, 2] },
        { name: 'boxes', datatype: 'FP32', shape: [-1, 4] },
      ],
    });
  });

  test('model readiness: 200 ready, 404 unknown as problem+json with the protocol error member', async () => {
    const ready = await request(service.url).get('/v2/models/dots/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { name: 'dots', ready: true });
    const unknown = await request(service.url).get('/v2/models/nope/ready');
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers['content-type'] ?? '', /application\/problem\+json/);
    const problem = unknown.body as { status: number; error: string; detail: string };
    assert.equal(problem.status, 404);
    assert.equal(problem.error, problem.detail);
    assert.match(problem.detail, /"nope"/);
  });

  for (const tta of [true, false]) {
    test(`infer finds both dots within 0.5 px in two boxes (tta ${tta})`, async () => {
      const [width, height] = [160, 120];
      const dots = [
        { x: 22.3, y: 40.6, sigma: 1.5 },
        { x: 52.8, y: 44.1, sigma: 1.5 },
        { x: 96.4, y: 80.2, sigma: 1.5 },
        { x: 141.7, y: 77.9, sigma: 1.5 },
      ];
      const response = await request(service.url)
        .post('/v2/models/dots/infer')
        .send({
          id: 'request-1',
          parameters: { tta, fusion: 'ml', level: 0.9 },
          inputs: [
            imageTensor(width, height, dots),
            {
              name: 'boxes',
              datatype: 'FP32',
              shape: [2, 4],
              data: [
                [0, 10, 75, 60],
                [80, 50, 80, 60],
              ],
            },
          ],
        });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.model_name, 'dots');
      assert.equal(response.body.model_version, '1');
      assert.equal(response.body.id, 'request-1');
      assert.equal(response.body.parameters.keypoint_names, 'left_dot,right_dot');
      assert.equal(response.body.parameters.level, 0.9);
      const keypoints = output(response.body, 'keypoints');
      assert.equal(keypoints.datatype, 'FP32');
      assert.deepEqual(keypoints.shape, [2, 2, 2]);
      dots.forEach((dot, index) => {
        expect(keypoints.data[2 * index]!, `dot ${index} x`).toBeCloseToNested(dot.x, { abs: 0.5 });
        expect(keypoints.data[2 * index + 1]!, `dot ${index} y`).toBeCloseToNested(dot.y, { abs: 0.5 });
      });
      const covariance = output(response.body, 'covariance');
      assert.deepEqual(covariance.shape, [2, 2, 2, 2]);
      const ellipse = output(response.body, 'ellipse');
      assert.deepEqual(ellipse.shape, [2, 2, 3]);
      const rmse = output(response.body, 'rmse');
      assert.deepEqual(rmse.shape, [2, 2]);
      for (let k = 0; k < 4; k++) {
        const [sxx, sxy, syx, syy] = covariance.data.slice(4 * k, 4 * k + 4) as [number, number, number, number];
        assert.equal(sxy, syx, 'covariance is symmetric');
        assert.ok(sxx > 0 && syy > 0 && sxx * syy > sxy * sxy, 'covariance is positive definite');
        expect(rmse.data[k]!, 'rmse = √trace Σ').toBeCloseToNested(Math.sqrt(sxx + syy), { abs: 1e-9 });
        const [major, minor] = ellipse.data.slice(3 * k, 3 * k + 2) as [number, number];
        assert.ok(major >= minor && minor > 0, 'semi-axes ordered and positive');
      }
      assert.deepEqual(output(response.body, 'boxes').data, [0, 10, 75, 60, 80, 50, 80, 60]);
    });
  }

  test('infer without boxes predicts the whole image, and returns only the requested outputs', async () => {
    const [width, height] = [64, 48];
    const dots = [
      { x: 14.2, y: 20.7, sigma: 1.5 },
      { x: 47.6, y: 27.3, sigma: 1.5 },
    ];
    const response = await request(service.url)
      .post('/v2/models/dots/infer')
      .send({
        inputs: [imageTensor(width, height, dots)],
        outputs: [{ name: 'keypoints' }, { name: 'boxes' }],
      });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(
      response.body.outputs.map((tensor: Tensor) => tensor.name),
      ['keypoints', 'boxes'],
    );
    assert.deepEqual(output(response.body, 'boxes').data, [0, 0, width, height]);
    const keypoints = output(response.body, 'keypoints').data;
    expect(keypoints[0]!, 'left x').toBeCloseToNested(dots[0]!.x, { abs: 0.5 });
    expect(keypoints[1]!, 'left y').toBeCloseToNested(dots[0]!.y, { abs: 0.5 });
    expect(keypoints[2]!, 'right x').toBeCloseToNested(dots[1]!.x, { abs: 0.5 });
    expect(keypoints[3]!, 'right y').toBeCloseToNested(dots[1]!.y, { abs: 0.5 });
  });

  const refusals: Array<{ label: string; status: number; body: object; detail: RegExp }> = [
    {
      label: 'wrong datatype',
      status: 400,
      body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 3], data: [0, 0, 0] }] },
      detail: /must be UINT8/,
    },
    {
      label: 'data that does not fill the shape',
      status: 400,
      body: { inputs: [{ name: 'image', datatype: 'UINT8', shape: [2, 2, 3], data: [0, 0, 0] }] },
      detail: /3 elements; shape \[2, 2, 3\] needs 12/,
    },
    {
      label: 'a pixel out of range',
      status: 400,
      body: { inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 1, 3], data: [0, 256, 0] }] },
      detail: /element 1 is 256/,
    },
    {
      label: 'no image input',
      status: 400,
      body: { inputs: [{ name: 'boxes', datatype: 'FP32', shape: [1, 4], data: [0, 0, 1, 1] }] },
      detail: /"image" .* is required/,
    },
    {
      label: 'an unknown output',
      status: 400,
      body: { inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 1, 3], data: [0, 0, 0] }], outputs: [{ name: 'heatmap' }] },
      detail: /unknown output "heatmap"/,
    },
    {
      label: 'a box outside the image',
      status: 422,
      body: {
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [1, 1, 3], data: [0, 0, 0] },
          { name: 'boxes', datatype: 'FP32', shape: [1, 4], data: [5, 5, 1, 1] },
        ],
      },
      detail: /boxes\[0\].*outside/,
    },
  ];
  for (const { label, status, body, detail } of refusals) {
    test(`infer refuses ${label} with ${status} problem+json`, async () => {
      const response = await request(service.url).post('/v2/models/dots/infer').send(body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.type, /application\/problem\+json/);
      assert.match(response.body.detail, detail);
      // Refusals from the shared pipeline (a box outside the image) carry the protocol member too.
      assert.equal(response.body.error, response.body.detail);
    });
  }

  test('a model that failed to load is not ready: 503 from ready and infer', async () => {
    const ready = await request(service.url).get('/v2/models/broken-missing-onnx/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { name: 'broken-missing-onnx', ready: false });
    const infer = await request(service.url)
      .post('/v2/models/broken-missing-onnx/infer')
      .send({
        inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 1, 3], data: [0, 0, 0] }],
      });
    assert.equal(infer.status, 503);
    assert.match(infer.body.detail, /failed to load/);
  });

  test('infer refuses data nested far deeper than its shape with 400, without flattening it blindly', async () => {
    // 200 000 levels: flattening to any depth would overflow the stack (a 500).
    const depth = 200_000;
    const body = `{"inputs":[{"name":"image","datatype":"UINT8","shape":[1,1,3],"data":${'['.repeat(depth)}1${']'.repeat(depth)}}]}`;
    const response = await sendRaw(service.url, 'post', '/v2/models/dots/infer', body, { 'content-type': 'application/json' });
    assert.equal(response.status, 400);
    assert.match((response.body as { detail: string }).detail, /nests its data deeper than its shape/);
  });

  test('metadata of a model that failed to load is 503, as documented', async () => {
    const response = await request(service.url).get('/v2/models/broken-missing-onnx');
    assert.equal(response.status, 503);
    assert.match((response.body as { detail: string }).detail, /failed to load/);
  });

  test('infer on an unknown model is 404', async () => {
    const response = await request(service.url)
      .post('/v2/models/nope/infer')
      .send({
        inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 1, 3], data: [0, 0, 0] }],
      });
    assert.equal(response.status, 404);
    assert.equal(response.body.error, response.body.detail);
  });
});
