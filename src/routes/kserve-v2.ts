import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { badRequest, problemErrorHandler } from '../errors.js';
import {
  boxesFromTensor,
  imageFromTensor,
  inferOptions,
  isOutputName,
  OUTPUT_NAMES,
  outputMetadata,
  outputTensors,
  TensorError,
} from '../kserve/tensors.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { predictKeypoints, type PredictLimits } from '../pipeline/predict-keypoints.js';
import { InferRequest, InferResponse, ModelMetadata, V2Params } from '../schemas/kserve-v2.js';
import { problemResponses } from '../schemas/problem.js';
import { findModel, servedModel } from './models.js';

const tags = ['kserve-v2'];
const internalError = problemResponses({ 500: 'Internal error' });

/** A client tensor that does not fit is the client's mistake: 400, named. */
function fromTensors<T>(convert: () => T): T {
  try {
    return convert();
  } catch (error) {
    if (error instanceof TensorError) throw badRequest(error.message, 'invalid-tensor');
    throw error;
  }
}

/**
 * KServe's Open Inference Protocol (v2), server-wide routes: metadata and health, public like
 * /healthz. Errors are the service's problem+json plus the protocol's `error` member, which v2
 * clients read.
 */
export const kserveServerRoutes: FastifyPluginAsyncTypebox<{ registry: ModelRegistry }> = async (app, { registry }) => {
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
    async (_request, reply) => reply.code(registry.ready ? 200 : 503).send({ ready: registry.ready }),
  );
};

/** The Open Inference Protocol's per-model routes: metadata, readiness, infer. */
export const kserveModelRoutes: FastifyPluginAsyncTypebox<{
  registry: ModelRegistry;
  metrics: Metrics;
  limits: PredictLimits;
}> = async (app, { registry, metrics, limits }) => {
  app.setErrorHandler(problemErrorHandler({ errorMember: true }));

  app.get(
    '/v2/models/:model',
    {
      schema: {
        operationId: 'v2ModelMetadata',
        summary: 'Open Inference Protocol: model metadata',
        description: 'The tensors `infer` takes and returns. Keypoint counts are known once the manifest has loaded.',
        tags,
        params: V2Params,
        response: {
          200: ModelMetadata,
          ...problemResponses({
            400: 'Malformed model name',
            404: 'No such model',
            500: 'Internal error',
            503: 'Model failed to load',
          }),
        },
      },
    },
    async (request) => {
      const entry = findModel(registry, request.params.model);
      const manifest = entry.state === 'failed' || !entry.manifest ? servedModel(entry).manifest : entry.manifest;
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
            404: 'No such model',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request, reply) => {
      const entry = findModel(registry, request.params.model);
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
        body: InferRequest,
        response: {
          200: InferResponse,
          ...problemResponses({
            400: 'Malformed request or tensor',
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
      const { body } = request;
      const served = servedModel(findModel(registry, request.params.model));
      const { image, boxes, options, names } = fromTensors(() => {
        for (const input of body.inputs) {
          if (input.name !== 'image' && input.name !== 'boxes') {
            throw new TensorError(`unknown input "${input.name}"; this model takes "image" and "boxes"`);
          }
        }
        const imageInput = body.inputs.find((input) => input.name === 'image');
        if (!imageInput) throw new TensorError('input "image" (UINT8 [H, W, 3]) is required');
        const boxesInput = body.inputs.find((input) => input.name === 'boxes');
        const requested = (body.outputs ?? []).map((output) => output.name);
        const unknown = requested.find((name) => !isOutputName(name));
        if (unknown !== undefined) {
          throw new TensorError(`unknown output "${unknown}"; this model returns ${OUTPUT_NAMES.join(', ')}`);
        }
        return {
          options: inferOptions(body.parameters),
          image: imageFromTensor(imageInput, limits.maxPixels),
          boxes: boxesInput ? boxesFromTensor(boxesInput) : undefined,
          names: requested.length > 0 ? requested.filter(isOutputName) : [...OUTPUT_NAMES],
        };
      });
      const result = await predictKeypoints(
        served,
        {
          image,
          boxes,
          ...options,
          includeViews: false,
          // The protocol carries no deadline of its own; the server's longest applies.
          deadline: performance.now() + limits.maxDeadlineMs,
        },
        limits,
        metrics,
      );
      const tensors = outputTensors(result.instances, served.manifest.keypoints.length);
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
