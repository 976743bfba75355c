import { performance } from 'node:perf_hooks';
import underPressure from '@fastify/under-pressure';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { badRequest, payloadTooLarge, ProblemError, problemUri } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { predictKeypoints, type PredictLimits, type PredictRequest } from '../pipeline/predict-keypoints.js';
import { ModelParams } from '../schemas/models.js';
import { PredictJsonBody, PredictMultipartBody, PredictResponse, type PredictBody } from '../schemas/predict.js';
import { problemResponses } from '../schemas/problem.js';
import { findModel, servedModel } from './models.js';

/** Longest text field a multipart form may carry; images belong in file parts. */
export const MULTIPART_FIELD_BYTES = 1024 * 1024;

const base64Pattern = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseBoxes(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`boxes field is not valid JSON: ${messageOf(error)}`, 'invalid-boxes');
  }
}

const booleanFields = new Set(['tta', 'includeViews']);
const numberFields = new Set(['level', 'swapPrior']);
const jsonFields = new Set(['boxes']);
const decimal = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A form field is text; this turns it into the JSON value the body schema expects, and refuses
 * text that is not exactly that (`"yes"` is not a boolean, `"0.9x"` not a number): the schema then
 * checks the value as it checks a JSON body, without coercion.
 */
export function parseFormField(name: string, text: string): unknown {
  if (jsonFields.has(name)) return name === 'boxes' ? parseBoxes(text) : text;
  if (booleanFields.has(name)) {
    if (text === 'true') return true;
    if (text === 'false') return false;
    throw badRequest(`field "${name}" must be true or false, got ${JSON.stringify(text)}`, 'invalid-field');
  }
  if (numberFields.has(name)) {
    const value = Number(text.trim());
    if (!decimal.test(text.trim()) || !Number.isFinite(value)) {
      throw badRequest(`field "${name}" must be a number, got ${JSON.stringify(text)}`, 'invalid-field');
    }
    return value;
  }
  return text;
}

/**
 * Reads a multipart form into the JSON body's shape before validation, so both content types
 * meet the same schema: the `image` part as bytes, `boxes` parsed from its JSON text (a text field,
 * or an application/json part as the document's encoding describes it).
 */
export async function readMultipart(request: FastifyRequest): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  for await (const part of request.parts()) {
    if (part.fieldname === 'image' && body.image !== undefined) {
      throw badRequest('the form holds more than one image part; send one image per request');
    }
    if (part.type === 'file') {
      if (part.fieldname !== 'image' && part.fieldname !== 'boxes') {
        part.file.resume();
        throw badRequest(`unexpected file part "${part.fieldname}"; send the image as the "image" part`);
      }
      const bytes = await part.toBuffer();
      if (part.file.truncated) throw payloadTooLarge(`${part.fieldname} part is larger than the body limit`);
      body[part.fieldname] = part.fieldname === 'boxes' ? parseBoxes(bytes.toString('utf8')) : bytes;
    } else {
      // Busboy cuts text fields at fieldSize; a cut base64 image would otherwise read as a damaged one.
      if (part.valueTruncated) {
        throw payloadTooLarge(
          `field "${part.fieldname}" is longer than ${MULTIPART_FIELD_BYTES} bytes; send the image as a file part`,
        );
      }
      body[part.fieldname] = parseFormField(part.fieldname, String(part.value));
    }
  }
  return body;
}

/** preValidation for routes that take predict's input: a multipart form becomes the JSON body's shape. */
export async function readMultipartBody(request: FastifyRequest): Promise<void> {
  if (!request.isMultipart()) return;
  try {
    request.body = await readMultipart(request);
  } catch (error) {
    // busboy reports a malformed form (no boundary, a cut-off part) as a bare Error, which would be a 500.
    if (error instanceof ProblemError || (error instanceof Error && 'statusCode' in error)) throw error;
    throw badRequest(`multipart body could not be read: ${messageOf(error)}`, 'invalid-multipart');
  }
}

/** The image's bytes: base64 text from a JSON body, or a multipart file part as read. */
export function imageBytes(image: unknown): Buffer {
  if (typeof image === 'string') {
    const bytes = Buffer.from(image, 'base64');
    // Canonical base64 (what clients send) re-encodes to itself, a comparison far cheaper than the
    // pattern's walk over a few hundred kB on the event loop (0.1 against 1.8 ms); anything else
    // (line breaks, missing padding, stray characters) gets the pattern.
    if (bytes.toString('base64') !== image && !base64Pattern.test(image)) {
      throw badRequest('image is not valid base64', 'invalid-image');
    }
    return bytes;
  }
  if (Buffer.isBuffer(image)) return image;
  throw badRequest('image must be a file part', 'invalid-image');
}

/** The optional client deadline, shared by every route that runs the model. */
export function deadlineHeaders(maxDeadlineMs: number) {
  return Type.Object({
    'x-request-deadline-ms': Type.Optional(
      Type.Integer({
        minimum: 1,
        description: `Milliseconds the client will wait; work still queued past it is dropped and answered 504. Capped at ${maxDeadlineMs}.`,
      }),
    ),
  });
}
export type DeadlineHeaders = Static<ReturnType<typeof deadlineHeaders>>;

/**
 * Load shedding for a plugin's routes (predict, render): registered inside each such plugin, so it
 * applies to the model routes only; health and metrics keep answering.
 */
export async function registerLoadShedding(app: FastifyInstance, maxEventLoopDelayMs: number): Promise<void> {
  if (maxEventLoopDelayMs <= 0) return;
  await app.register(underPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    pressureHandler: (request, reply, type, value) => {
      void reply
        .status(503)
        .header('retry-after', '1')
        .type('application/problem+json')
        .send({
          type: problemUri('overloaded'),
          title: 'Service Unavailable',
          status: 503,
          detail: `the server is overloaded (${type} ${Math.round(Number(value))}); retry shortly`,
          instance: request.url,
        });
    },
  });
}

/** The pipeline's request from a validated body: the image's bytes and the deadline, capped by the server's. */
export function predictRequest(
  body: PredictBody,
  started: number,
  askedDeadlineMs: number | undefined,
  limits: PredictLimits,
): PredictRequest {
  return {
    image: imageBytes(body.image),
    boxes: body.boxes,
    tta: body.tta,
    fusion: body.fusion,
    level: body.level,
    includeViews: body.includeViews,
    deadline: started + Math.min(askedDeadlineMs ?? limits.maxDeadlineMs, limits.maxDeadlineMs),
  };
}

export const predictRoutes: FastifyPluginAsyncTypebox<{
  registry: ModelRegistry;
  metrics: Metrics;
  limits: PredictLimits;
}> = async (app, { registry, metrics, limits }) => {
  await registerLoadShedding(app, limits.maxEventLoopDelayMs);
  // One body schema per content type (for OpenAPI); the validated body has PredictBody's shape either way.
  app.post<{ Body: PredictBody; Params: Static<typeof ModelParams>; Headers: DeadlineHeaders }>(
    '/v1/models/:model/predict',
    {
      schema: {
        operationId: 'predict',
        summary: 'Predict keypoints with full covariance for each box',
        description:
          "Send the image as JSON (base64) or as multipart/form-data (an `image` file part; `boxes` as a JSON-encoded part; the options as fields). Returns each keypoint's mean, covariance and uncertainty ellipse in the EXIF-oriented image's pixel coordinates.",
        tags: ['predict'],
        params: ModelParams,
        headers: deadlineHeaders(limits.maxDeadlineMs),
        body: {
          content: {
            'application/json': { schema: PredictJsonBody },
            'multipart/form-data': { schema: PredictMultipartBody },
          },
        },
        response: {
          200: PredictResponse,
          ...problemResponses({
            400: 'Malformed request, or an image that cannot be decoded',
            404: 'No such model',
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
    async (request) => {
      const started = performance.now();
      const served = servedModel(findModel(registry, request.params.model));
      const asked = request.headers['x-request-deadline-ms'];
      return predictKeypoints(served, predictRequest(request.body, started, asked, limits), limits, metrics);
    },
  );
};
