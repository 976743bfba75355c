import { performance } from 'node:perf_hooks';
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import { ProblemError, problemUri } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { DecodedImage } from '../pipeline/image-decoder.js';
import { predictKeypoints, type PredictLimits } from '../pipeline/predict-keypoints.js';
import { chooseFormat } from '../render/choose-format.js';
import { RENDER_CONTENT_TYPES, renderPicture } from '../render/render-image.js';
import { ModelParams } from '../schemas/models.js';
import { problemResponses } from '../schemas/problem.js';
import { RenderJsonBody, RenderMultipartBody, RenderResponse, type RenderBody } from '../schemas/render.js';
import { findModel, servedModel } from './models.js';
import { deadlineHeaders, predictRequest, readMultipartBody, registerLoadShedding, type DeadlineHeaders } from './predict.js';

const notAcceptable = (accept: string) =>
  new ProblemError(
    406,
    'Not Acceptable',
    `Accept "${accept}" allows none of image/png, image/jpeg, image/svg+xml; send one of them or a format field`,
    problemUri('not-acceptable'),
  );

/**
 * POST /v1/models/{model}/render: predict's input and pipeline (one decode, the same crops, inference
 * and fusion), answered as a picture instead of JSON.
 */
export const renderRoutes: FastifyPluginAsync<{ registry: ModelRegistry; metrics: Metrics; limits: PredictLimits }> = async (
  app,
  { registry, metrics, limits },
) => {
  await registerLoadShedding(app, limits.maxEventLoopDelayMs);
  app.post<{ Params: Static<typeof ModelParams>; Body: RenderBody; Headers: DeadlineHeaders }>(
    '/v1/models/:model/render',
    {
      schema: {
        operationId: 'render',
        summary: 'Draw the predicted keypoints and their uncertainty ellipses over the image',
        description:
          "Takes exactly predict's input (JSON with a base64 image, or multipart/form-data) and every option, plus `format`. Answers the EXIF-oriented image at its pixel size with each box, each keypoint's mean as a filled dot and its `level` ellipse (the numbers predict returns for the same request), the manifest's edges as lines, and a legend: colour is rmse divided by the box diagonal. `format` (png, jpeg, svg) wins over Accept.",
        tags: ['predict'],
        params: ModelParams,
        headers: deadlineHeaders(limits.maxDeadlineMs),
        body: {
          content: {
            'application/json': { schema: RenderJsonBody },
            'multipart/form-data': { schema: RenderMultipartBody },
          },
        },
        response: {
          200: RenderResponse,
          ...problemResponses({
            400: 'Malformed request, or an image that cannot be decoded',
            404: 'No such model',
            406: 'Accept allows none of PNG, JPEG or SVG and no format field was sent',
            413: 'Body or image larger than the configured limits',
            415: 'Unsupported content type or image format',
            422: 'Boxes that are empty, non-finite, outside the image, or too many',
            500: 'Internal error',
            503: 'Model not ready, queue full or server overloaded (see Retry-After), or inference failed',
            504: 'The request deadline passed before inference',
          }),
        },
      },
      preValidation: readMultipartBody,
    },
    async (request, reply) => {
      const started = performance.now();
      const body = request.body;
      // Decided before any work, so a client that can take no picture costs no inference.
      const format = chooseFormat(body.format, request.headers.accept);
      if (format === null) throw notAcceptable(request.headers.accept ?? '');
      const served = servedModel(findModel(registry, request.params.model));
      let decoded: DecodedImage | undefined;
      const prediction = await predictKeypoints(
        served,
        predictRequest(body, started, request.headers['x-request-deadline-ms'], limits),
        limits,
        metrics,
        (image) => {
          decoded = image;
        },
      );
      if (decoded === undefined) throw new Error('the pipeline returned a prediction without decoding the image');
      const picture = await renderPicture(
        decoded,
        { instances: prediction.instances, edges: served.manifest.edges ?? [], trained: served.manifest.trained },
        format,
      );
      void reply
        .type(RENDER_CONTENT_TYPES[format])
        .header('vary', 'accept')
        .header('x-model-trained', String(served.manifest.trained));
      return picture;
    },
  );
};
