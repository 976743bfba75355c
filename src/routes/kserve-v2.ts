import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsync } from 'fastify';
import sharp from 'sharp';
import Type, { type Static } from 'typebox';
import { badRequest, payloadTooLarge, problemErrorHandler } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { Box } from '../pipeline/crop-sampler.js';
import { predictKeypoints, type PredictLimits } from '../pipeline/predict-keypoints.js';
import { problemResponses } from '../schemas/problem.js';
import { findModel, servedModel } from './models.js';

/*
 * KServe's Open Inference Protocol (v2) over REST, so the service can run as a KServe custom
 * predictor beside its native API. The tensors this model exposes:
 *   inputs  image      UINT8 [H, W, 3]  RGB pixels, row-major (flat or nested JSON data)
 *           boxes      FP32  [B, 4]     x, y, width, height in image pixels (optional: whole image)
 *   outputs keypoints  FP32  [B, K, 2]  x, y in image pixels
 *           covariance FP32  [B, K, 2, 2] Σ in pixels²
 *           ellipse    FP32  [B, K, 3]  semi-major, semi-minor (pixels), angle (degrees from +x toward +y)
 *           rmse       FP32  [B, K]     √(trace Σ), pixels
 *           boxes      FP32  [B, 4]     the boxes predicted (the whole image when none were sent)
 * Request parameters `tta`, `fusion` and `level` mean what they mean in the native API.
 * Errors are problem+json like the rest of the service, with the protocol's `error` member added
 * so that v2 clients, which read only `error`, see the message too.
 */

const invalidInput = (detail: string) => badRequest(detail, 'invalid-tensor');

const Parameters = Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.Number(), Type.String()]), {
  description: 'Protocol parameters: string, number or boolean values.',
});

const TensorMetadata = Type.Object({
  name: Type.String(),
  datatype: Type.String({ description: 'A v2 tensor datatype: UINT8, FP32, …' }),
  shape: Type.Array(Type.Integer(), { description: '-1 marks a variable-size dimension.' }),
});

const V2Params = Type.Object({
  model: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Model name: its folder in the model repository.',
    examples: ['resnet101-huber-wflw'],
  }),
});

const RequestInput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer({ minimum: 0 })),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Unknown(), { description: 'Tensor elements in row-major order, flat or nested.' }),
});

const InferRequest = Type.Object(
  {
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestInput, { minItems: 1 }),
    outputs: Type.Optional(
      Type.Array(Type.Object({ name: Type.String(), parameters: Type.Optional(Parameters) }), {
        description: 'The outputs to return; all of them when omitted.',
      }),
    ),
  },
  {
    examples: [
      {
        id: 'frame-42',
        parameters: { tta: true, fusion: 'ml', level: 0.95 },
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [2, 2, 3], data: [0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255] },
          { name: 'boxes', datatype: 'FP32', shape: [1, 4], data: [0, 0, 2, 2] },
        ],
        outputs: [{ name: 'keypoints' }, { name: 'covariance' }],
      },
    ],
  },
);
type InferRequestBody = Static<typeof InferRequest>;

const ResponseOutput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer()),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Number(), { description: 'Row-major, flattened.' }),
});

const InferResponse = Type.Object(
  {
    model_name: Type.String(),
    model_version: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(Parameters),
    outputs: Type.Array(ResponseOutput),
  },
  {
    examples: [
      {
        model_name: 'resnet101-huber-wflw',
        model_version: '1',
        id: 'frame-42',
        parameters: { trained: false, execution_provider: 'cpu', level: 0.95, keypoint_names: 'left_dot,right_dot' },
        outputs: [
          { name: 'keypoints', datatype: 'FP32', shape: [1, 2, 2], data: [0.61, 1.02, 1.43, 0.98] },
          { name: 'covariance', datatype: 'FP32', shape: [1, 2, 2, 2], data: [0.1, -0.02, -0.02, 0.2, 0.1, -0.02, -0.02, 0.2] },
        ],
      },
    ],
  },
);

const ModelMetadata = Type.Object(
  {
    name: Type.String(),
    versions: Type.Array(Type.String()),
    platform: Type.String(),
    inputs: Type.Array(TensorMetadata),
    outputs: Type.Array(TensorMetadata),
  },
  {
    examples: [
      {
        name: 'resnet101-huber-wflw',
        versions: ['1'],
        platform: 'onnxruntime',
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [-1, -1, 3] },
          { name: 'boxes', datatype: 'FP32', shape: [-1, 4] },
        ],
        outputs: [{ name: 'keypoints', datatype: 'FP32', shape: [-1, 98, 2] }],
      },
    ],
  },
);

const internalError = problemResponses({ 500: 'Internal error' });

const OUTPUT_NAMES = ['keypoints', 'covariance', 'ellipse', 'rmse', 'boxes'] as const;
type OutputName = (typeof OUTPUT_NAMES)[number];

function outputMetadata(keypointCount: number) {
  const K = keypointCount;
  const shapes: Record<OutputName, number[]> = {
    keypoints: [-1, K, 2],
    covariance: [-1, K, 2, 2],
    ellipse: [-1, K, 3],
    rmse: [-1, K],
    boxes: [-1, 4],
  };
  return OUTPUT_NAMES.map((name) => ({ name, datatype: 'FP32', shape: shapes[name] }));
}

const elementCount = (shape: readonly number[]) => shape.reduce((product, size) => product * size, 1);

/** The tensor's elements as one flat array, checked against its shape. */
function flatData(input: InferRequestBody['inputs'][number]): unknown[] {
  // Nested data is as deep as the shape at most: flattening to any depth would recurse as deep as the client liked.
  const data = input.data.some(Array.isArray) ? (input.data as unknown[]).flat(Math.max(0, input.shape.length - 1)) : input.data;
  if (data.some(Array.isArray)) {
    throw invalidInput(`input "${input.name}" nests its data deeper than its shape [${input.shape.join(', ')}]`);
  }
  const expected = elementCount(input.shape);
  if (data.length !== expected) {
    throw invalidInput(`input "${input.name}" has ${data.length} elements; shape [${input.shape.join(', ')}] needs ${expected}`);
  }
  return data;
}

function imagePixels(
  input: InferRequestBody['inputs'][number],
  maxPixels: number,
): { pixels: Buffer; width: number; height: number } {
  if (input.datatype !== 'UINT8') throw invalidInput(`input "image" must be UINT8, got ${input.datatype}`);
  if (input.shape.length !== 3 || input.shape[2] !== 3) {
    throw invalidInput(`input "image" must have shape [H, W, 3] (RGB), got [${input.shape.join(', ')}]`);
  }
  const [height, width] = input.shape as [number, number, number];
  if (height < 1 || width < 1) throw invalidInput(`input "image" is empty: shape [${input.shape.join(', ')}]`);
  if (height * width > maxPixels) {
    throw payloadTooLarge(`image has ${height * width} pixels, more than the limit of ${maxPixels}`);
  }
  const data = flatData(input);
  const pixels = Buffer.allocUnsafe(data.length);
  for (let index = 0; index < data.length; index++) {
    const value = data[index];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
      throw invalidInput(`input "image" element ${index} is ${JSON.stringify(value)}; UINT8 elements are integers 0–255`);
    }
    pixels[index] = value;
  }
  return { pixels, width, height };
}

function boxList(input: InferRequestBody['inputs'][number]): Box[] {
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64')
    throw invalidInput(`input "boxes" must be FP32, got ${input.datatype}`);
  if (input.shape.length !== 2 || input.shape[1] !== 4) {
    throw invalidInput(`input "boxes" must have shape [B, 4] (x, y, width, height), got [${input.shape.join(', ')}]`);
  }
  const data = flatData(input);
  if (!data.every((value) => typeof value === 'number')) throw invalidInput('input "boxes" elements must be numbers');
  const values = data as number[];
  return Array.from({ length: input.shape[0]! }, (_, b) => ({
    x: values[4 * b]!,
    y: values[4 * b + 1]!,
    width: values[4 * b + 2]!,
    height: values[4 * b + 3]!,
  }));
}

function predictOptions(parameters: InferRequestBody['parameters']): { tta: boolean; fusion: 'ml' | 'mean'; level: number } {
  const { tta = true, fusion = 'ml', level = 0.95 } = parameters ?? {};
  if (typeof tta !== 'boolean') throw invalidInput(`parameter "tta" must be a boolean, got ${JSON.stringify(tta)}`);
  if (fusion !== 'ml' && fusion !== 'mean')
    throw invalidInput(`parameter "fusion" must be "ml" or "mean", got ${JSON.stringify(fusion)}`);
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw invalidInput(`parameter "level" must be a number strictly between 0 and 1, got ${JSON.stringify(level)}`);
  }
  return { tta, fusion, level };
}

export const kserveV2Routes: FastifyPluginAsync<{ registry: ModelRegistry; metrics: Metrics; limits: PredictLimits }> = async (
  app,
  { registry, metrics, limits },
) => {
  const tags = ['kserve-v2'];
  // The native API's bearer token guards /v2/models/* too when AUTH_TOKEN is set.
  const security: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }];
  const findEntry = (name: string) => findModel(registry, name);
  // Errors here are the service's problem+json plus the protocol's `error` member, which v2 clients read.
  app.setErrorHandler(problemErrorHandler({ errorMember: true }));

  app.get(
    '/v2',
    {
      schema: {
        operationId: 'v2ServerMetadata',
        summary: 'Open Inference Protocol: server metadata',
        tags,
        response: {
          200: Type.Object(
            { name: Type.String(), version: Type.String(), extensions: Type.Array(Type.String()) },
            { examples: [{ name: 'huber-keypoints', version: '1.0.0', extensions: [] }] },
          ),
          ...internalError,
        },
      },
    },
    async () => ({ name: 'huber-keypoints', version: '1.0.0', extensions: [] }),
  );

  app.get(
    '/v2/health/live',
    {
      schema: {
        operationId: 'v2ServerLive',
        summary: 'Open Inference Protocol: server liveness',
        tags,
        response: { 200: Type.Object({ live: Type.Boolean() }, { examples: [{ live: true }] }), ...internalError },
      },
    },
    async () => ({ live: true }),
  );

  app.get(
    '/v2/health/ready',
    {
      schema: {
        operationId: 'v2ServerReady',
        summary: 'Open Inference Protocol: server readiness',
        description: '200 once no model is still loading and at least one is ready; 503 before that.',
        tags,
        response: {
          200: Type.Object({ ready: Type.Boolean() }, { examples: [{ ready: true }] }),
          503: Type.Object({ ready: Type.Boolean() }, { description: 'Not ready yet', examples: [{ ready: false }] }),
          ...internalError,
        },
      },
    },
    async (_request, reply) => (registry.ready ? { ready: true } : reply.code(503).send({ ready: false })),
  );

  app.get(
    '/v2/models/:model',
    {
      schema: {
        operationId: 'v2ModelMetadata',
        summary: 'Open Inference Protocol: model metadata',
        description: 'The tensors `infer` takes and returns. Keypoint counts are known once the manifest has loaded.',
        tags,
        params: V2Params,
        security,
        response: {
          200: ModelMetadata,
          ...problemResponses({
            400: 'Malformed model name',
            401: 'Missing or wrong bearer token (only when the server sets AUTH_TOKEN)',
            404: 'No such model',
            500: 'Internal error',
            503: 'Model failed to load',
          }),
        },
      },
    },
    async (request) => {
      const entry = findEntry((request.params as { model: string }).model);
      if (!entry.manifest || entry.state === 'failed') servedModel(entry);
      const manifest = entry.manifest!;
      return {
        name: entry.folder,
        versions: [manifest.version],
        platform: 'onnxruntime',
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [-1, -1, 3] },
          { name: 'boxes', datatype: 'FP32', shape: [-1, 4] },
        ],
        outputs: outputMetadata(manifest.keypoints.length),
      };
    },
  );

  app.get(
    '/v2/models/:model/ready',
    {
      schema: {
        operationId: 'v2ModelReady',
        summary: 'Open Inference Protocol: model readiness',
        tags,
        params: V2Params,
        security,
        response: {
          200: Type.Object(
            { name: Type.String(), ready: Type.Boolean() },
            { examples: [{ name: 'resnet101-huber-wflw', ready: true }] },
          ),
          503: Type.Object(
            { name: Type.String(), ready: Type.Boolean() },
            { description: 'Model loading or failed', examples: [{ name: 'resnet101-huber-wflw', ready: false }] },
          ),
          ...problemResponses({
            400: 'Malformed model name',
            401: 'Missing or wrong bearer token (only when the server sets AUTH_TOKEN)',
            404: 'No such model',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request, reply) => {
      const entry = findEntry((request.params as { model: string }).model);
      const ready = entry.state === 'ready';
      return reply.code(ready ? 200 : 503).send({ name: entry.folder, ready });
    },
  );

  app.post(
    '/v2/models/:model/infer',
    {
      schema: {
        operationId: 'v2ModelInfer',
        summary: 'Open Inference Protocol: predict keypoints from an image tensor',
        description:
          'Input `image` UINT8 [H, W, 3] (RGB, row-major) and optional `boxes` FP32 [B, 4] (x, y, width, height); parameters `tta`, `fusion`, `level`. Outputs `keypoints` FP32 [B, K, 2], `covariance` FP32 [B, K, 2, 2], `ellipse` FP32 [B, K, 3] (semi-major, semi-minor, angle in degrees), `rmse` FP32 [B, K] and `boxes` FP32 [B, 4], all in image pixels. Response parameters name the keypoints in order.',
        tags,
        params: V2Params,
        security,
        body: InferRequest,
        response: {
          200: InferResponse,
          ...problemResponses({
            400: 'Malformed request or tensor',
            401: 'Missing or wrong bearer token (only when the server sets AUTH_TOKEN)',
            404: 'No such model',
            413: 'Body or image larger than the configured limits',
            415: 'Unsupported content type: send application/json',
            422: 'Boxes that are empty, non-finite, outside the image, or too many',
            500: 'Internal error',
            503: 'Model not ready, queue full or server overloaded (see Retry-After), or inference failed',
            504: "The server's longest deadline passed before inference",
          }),
        },
      },
    },
    async (request) => {
      const body = request.body as InferRequestBody;
      const served = servedModel(findEntry((request.params as { model: string }).model));
      const known = new Set(['image', 'boxes']);
      for (const input of body.inputs) {
        if (!known.has(input.name)) throw invalidInput(`unknown input "${input.name}"; this model takes "image" and "boxes"`);
      }
      const imageInput = body.inputs.find((input) => input.name === 'image');
      if (!imageInput) throw invalidInput('input "image" (UINT8 [H, W, 3]) is required');
      const boxesInput = body.inputs.find((input) => input.name === 'boxes');
      const requested = (body.outputs ?? []).map((output) => output.name);
      for (const name of requested) {
        if (!(OUTPUT_NAMES as readonly string[]).includes(name)) {
          throw invalidInput(`unknown output "${name}"; this model returns ${OUTPUT_NAMES.join(', ')}`);
        }
      }
      const options = predictOptions(body.parameters);
      const { pixels, width, height } = imagePixels(imageInput, limits.maxPixels);
      // PNG is lossless, so the pipeline's decoder sees exactly these pixels; level 0 keeps it cheap.
      const png = await sharp(pixels, { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer();
      const result = await predictKeypoints(
        served,
        {
          image: png,
          boxes: boxesInput ? boxList(boxesInput) : undefined,
          ...options,
          includeViews: false,
          // The protocol carries no deadline of its own; the server's longest applies.
          deadline: performance.now() + limits.maxDeadlineMs,
        },
        limits,
        metrics,
      );

      const B = result.instances.length;
      const K = served.manifest.keypoints.length;
      const keypoints = result.instances.flatMap((instance) => instance.keypoints);
      const tensors: Record<OutputName, { shape: number[]; data: number[] }> = {
        keypoints: { shape: [B, K, 2], data: keypoints.flatMap((k) => [k.x, k.y]) },
        covariance: { shape: [B, K, 2, 2], data: keypoints.flatMap((k) => k.covariance.flat()) },
        ellipse: {
          shape: [B, K, 3],
          data: keypoints.flatMap((k) => [k.ellipse.semiMajor, k.ellipse.semiMinor, k.ellipse.angle]),
        },
        rmse: { shape: [B, K], data: keypoints.map((k) => k.rmse) },
        boxes: { shape: [B, 4], data: result.instances.flatMap(({ box }) => [box.x, box.y, box.width, box.height]) },
      };
      const names = requested.length > 0 ? (requested as OutputName[]) : [...OUTPUT_NAMES];
      return {
        model_name: result.model.name,
        model_version: result.model.version,
        ...(body.id !== undefined ? { id: body.id } : {}),
        parameters: {
          trained: result.model.trained,
          execution_provider: result.model.executionProvider,
          level: options.level,
          keypoint_names: served.keypointNames.join(','),
        },
        outputs: names.map((name) => ({ name, datatype: 'FP32', ...tensors[name] })),
      };
    },
  );
};
