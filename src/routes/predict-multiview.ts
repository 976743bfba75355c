import { performance } from 'node:perf_hooks';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { rigFromSource, type RigSource } from '../calibration/camera-rig.js';
import type { EvidencePool } from '../evidence/evidence-pool.js';
import { DomainError } from '../domain-errors.js';
import { badRequest, payloadTooLarge, ProblemError, problemFromDomain, unprocessable, unsupportedMediaType } from '../errors.js';
import type { CameraObservation } from '../huber/triangulation.js';
import type { Metrics } from '../metrics.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { predictKeypoints, type InstanceOut, type PredictLimits } from '../pipeline/predict-keypoints.js';
import { DEFAULT_LEVEL, DEFAULT_SWAP_PRIOR } from '../schemas/fusion.js';
import { ModelParams } from '../schemas/models.js';
import { PredictMultiviewBody, PredictMultiviewResponse, type PredictMultiviewRequest } from '../schemas/predict-multiview.js';
import { problemResponses } from '../schemas/problem.js';
import { withEvidenceProblems } from './evidence-problems.js';
import type { EvidenceLimits } from './fuse.js';
import { findModel, servedModel } from './models.js';
import { deadlineHeaders, MULTIPART_FIELD_BYTES } from './predict.js';
import { triangulatePoints, type PointEvidence } from './triangulate.js';

/** The form's named fields; every other part is an image named by its camera. */
const FIELDS = new Set(['calibration', 'boxes', 'tta', 'fusion', 'level', 'includeViews', 'swapPrior']);
const BOOLEAN_FIELDS = new Set(['tta', 'includeViews']);
const NUMBER_FIELDS = new Set(['level', 'swapPrior']);

/** Image bytes by camera name, kept beside the request because the validated body holds only the fields. */
const imagesByRequest = new WeakMap<FastifyRequest, Map<string, Buffer>>();

const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function parseJsonField(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`${name} part is not valid JSON: ${messageOf(error)}`, `invalid-${name.toLowerCase()}`);
  }
}

/**
 * A text field's value in the type the schema asks for, parsed here rather than by validator coercion:
 * `calibration` is JSON when it opens with `{` (TOML text never can) and TOML text otherwise.
 */
function fieldValue(name: string, text: string): unknown {
  if (name === 'boxes') return parseJsonField(name, text);
  if (name === 'calibration') return text.trimStart().startsWith('{') ? parseJsonField(name, text) : text;
  if (BOOLEAN_FIELDS.has(name)) {
    if (text === 'true' || text === 'false') return text === 'true';
    throw badRequest(`field "${name}" must be true or false, got ${JSON.stringify(text)}`, 'invalid-field');
  }
  if (NUMBER_FIELDS.has(name)) {
    if (numberPattern.test(text.trim())) return Number(text);
    throw badRequest(`field "${name}" must be a number, got ${JSON.stringify(text)}`, 'invalid-field');
  }
  return text;
}

async function readForm(
  request: FastifyRequest,
  maxCameras: number,
): Promise<{ fields: Record<string, unknown>; images: Map<string, Buffer> }> {
  const fields: Record<string, unknown> = {};
  const images = new Map<string, Buffer>();
  const parts = request.parts({
    limits: { files: maxCameras + FIELDS.size, parts: maxCameras + FIELDS.size, fieldSize: MULTIPART_FIELD_BYTES },
  });
  for await (const part of parts) {
    const name = part.fieldname;
    if (fields[name] !== undefined || images.has(name))
      throw badRequest(`the form holds more than one "${name}" part`, 'duplicate-part');
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      if (part.file.truncated) throw payloadTooLarge(`part "${name}" is larger than the body limit`);
      if (FIELDS.has(name)) fields[name] = fieldValue(name, bytes.toString('utf8'));
      else images.set(name, bytes);
    } else {
      if (part.valueTruncated) throw payloadTooLarge(`field "${name}" is longer than ${MULTIPART_FIELD_BYTES} bytes`);
      if (!FIELDS.has(name)) {
        throw badRequest(
          `unexpected text field "${name}": images are file parts named by their camera; fields are ${[...FIELDS].join(', ')}`,
          'unexpected-field',
        );
      }
      // A part sent as application/json arrives already parsed.
      fields[name] = typeof part.value === 'string' ? fieldValue(name, part.value) : part.value;
    }
  }
  return { fields, images };
}

/**
 * Puts the form's fields in the body, for validation against the schema, and its images beside the
 * request; anything but multipart/form-data is 415.
 */
async function readMultiviewForm(request: FastifyRequest, maxCameras: number): Promise<void> {
  if (!request.isMultipart()) {
    throw unsupportedMediaType('predict-multiview takes multipart/form-data: one image part per camera and a calibration part');
  }
  try {
    const { fields, images } = await readForm(request, maxCameras);
    request.body = fields;
    imagesByRequest.set(request, images);
  } catch (error) {
    // busboy reports a malformed form (no boundary, a cut-off part) as a bare Error, which would be a 500.
    if (error instanceof ProblemError || (error instanceof Error && 'statusCode' in error)) throw error;
    throw badRequest(`multipart body could not be read: ${messageOf(error)}`, 'invalid-multipart');
  }
}

function rigSource(calibration: PredictMultiviewRequest['calibration']): RigSource {
  return typeof calibration === 'string' ? { calibration } : { cameras: calibration.cameras, source: 'calibration.cameras' };
}

/** A refusal from one camera's prediction, with the camera named (the pipeline knows only its image). */
function forCamera(camera: string, error: unknown): unknown {
  const problem = error instanceof DomainError ? problemFromDomain(error) : error;
  if (!(problem instanceof ProblemError)) return error;
  const named = new ProblemError(
    problem.status,
    problem.title,
    `camera "${camera}": ${problem.message}`,
    problem.problemType,
    { ...problem.extensions, camera },
    problem.headers,
  );
  // The cause goes to the log for 5xx answers, as for predict.
  if (problem.cause !== undefined) named.cause = problem.cause;
  return named;
}

/**
 * The deadline covers the whole request (docs/fusion.md): a keypoint not yet triangulated when it passes
 * is not computed, since the client has stopped waiting for the answer it would be part of.
 */
function stopAtDeadline(deadline: number, total: number): (done: number) => void {
  return (done) => {
    if (performance.now() <= deadline) return;
    throw new DomainError(
      'deadline-exceeded',
      `the request deadline passed after the 2-D predictions, while the keypoints were triangulated (${done} of ${total} done); the rest were not computed`,
    );
  };
}

/** Every keypoint's evidence from every camera; a paired keypoint's flip partner is its alternative. */
function keypointEvidence(
  names: readonly string[],
  flip: Int32Array,
  predictions: ReadonlyArray<{ camera: string; instance: InstanceOut }>,
  swapPrior: number,
): PointEvidence[] {
  return names.map((name, k) => {
    const partner = flip[k] ?? k;
    const observations = predictions.map(({ camera, instance }): CameraObservation => {
      const own = instance.keypoints[k];
      const other = instance.keypoints[partner];
      if (!own || !other)
        throw new Error(
          `camera "${camera}" returned ${instance.keypoints.length} keypoints, fewer than the manifest's ${names.length}`,
        );
      const observation: CameraObservation = { camera, mean: [own.x, own.y], covariance: own.covariance.flat() };
      if (partner !== k && swapPrior > 0) {
        observation.alternatives = [{ mean: [other.x, other.y], covariance: other.covariance.flat(), prior: swapPrior }];
      }
      return observation;
    });
    return { name, path: `keypoints[${k}]`, observations };
  });
}

export const predictMultiviewRoutes: FastifyPluginCallbackTypebox<{
  registry: ModelRegistry;
  metrics: Metrics;
  limits: PredictLimits;
  evidenceLimits: EvidenceLimits;
  evidence: EvidencePool;
}> = (app, { registry, metrics, limits, evidenceLimits, evidence }, done) => {
  app.post(
    '/v1/models/:model/predict-multiview',
    {
      schema: {
        operationId: 'predictMultiview',
        summary: 'Predict keypoints in every camera of a calibrated rig and triangulate them to 3-D with covariance',
        description:
          'multipart/form-data: one image file part per camera (the part’s name is the camera’s name), a `calibration` part (calibration.toml text or JSON `{cameras}`), `boxes` (JSON: camera → box), and the predict options as fields. Each image is predicted exactly as by predict; each keypoint is then triangulated from the cameras with its flip partner’s distribution as an alternative of prior `swapPrior`. The `x-request-deadline-ms` header (as for predict) covers the whole request: a deadline that passes before inference, or before every keypoint is triangulated, is answered 504 and the rest is not computed.',
        tags: ['fusion'],
        params: ModelParams,
        headers: deadlineHeaders(limits.maxDeadlineMs),
        consumes: ['multipart/form-data'],
        body: PredictMultiviewBody,
        response: {
          200: PredictMultiviewResponse,
          ...problemResponses({
            400: 'Malformed form or field, an image that cannot be decoded, or a calibration that is not TOML',
            404: 'No such model',
            413: 'Body, part or image larger than the configured limits',
            415: 'Not multipart/form-data, or an unsupported image format',
            422: 'Unusable rig or evidence: an image or box for an unknown camera, fewer than two images, a box outside its image, a keypoint behind a camera, too many cameras',
            500: 'Internal error',
            503: 'Model not ready, queue full or server overloaded (see Retry-After), or inference failed',
            504: 'The deadline (x-request-deadline-ms, or MAX_DEADLINE_MS) passed before inference or before every keypoint was triangulated',
          }),
        },
      },
      preValidation: (request) => readMultiviewForm(request, evidenceLimits.maxCameras),
    },
    async (request) => {
      const started = performance.now();
      const served = servedModel(findModel(registry, request.params.model));
      const body = request.body;
      const images = imagesByRequest.get(request) ?? new Map<string, Buffer>();
      const source = rigSource(body.calibration);
      const rig = withEvidenceProblems('', () => rigFromSource(source, evidenceLimits.maxCameras));
      for (const camera of rig.keys()) {
        // Its image part would be read as that field: the form cannot say which was meant.
        if (FIELDS.has(camera)) {
          throw unprocessable(`camera name "${camera}" is also a field of the form; rename the camera`, 'ambiguous-camera', {
            path: camera,
          });
        }
      }
      for (const camera of images.keys()) {
        if (!rig.has(camera)) {
          throw unprocessable(
            `image part "${camera}" names no camera of the calibration (${[...rig.keys()].join(', ')})`,
            'unknown-camera',
            { path: camera },
          );
        }
      }
      for (const camera of Object.keys(body.boxes ?? {})) {
        if (!images.has(camera))
          throw unprocessable(`boxes has a box for "${camera}", which sent no image`, 'unknown-camera', {
            path: `boxes.${camera}`,
          });
      }
      if (images.size < 2) {
        throw unprocessable(
          `${images.size} image part${images.size === 1 ? '' : 's'} sent; triangulation needs images from at least two cameras`,
          'too-few-cameras',
        );
      }

      const level = body.level ?? DEFAULT_LEVEL;
      const asked = request.headers['x-request-deadline-ms'];
      const deadline = started + Math.min(asked ?? limits.maxDeadlineMs, limits.maxDeadlineMs);
      const predictions = await Promise.all(
        [...images].map(async ([camera, image]) => {
          const box = body.boxes?.[camera];
          try {
            const result = await predictKeypoints(
              served,
              {
                image,
                boxes: box ? [box] : undefined,
                tta: body.tta ?? true,
                fusion: body.fusion ?? 'ml',
                level,
                includeViews: body.includeViews ?? false,
                deadline,
              },
              limits,
              metrics,
            );
            const instance = result.instances[0];
            if (!instance) throw new Error(`predict returned no instance for camera "${camera}"`);
            return { camera, image: result.image, instance, model: result.model };
          } catch (error) {
            throw forCamera(camera, error);
          }
        }),
      );
      const predicted = performance.now();

      const manifest = served.manifest;
      const points = keypointEvidence(served.keypointNames, served.flip, predictions, body.swapPrior ?? DEFAULT_SWAP_PRIOR);
      const keypoints = await triangulatePoints(
        evidence,
        { source, cameras: rig, maxCameras: evidenceLimits.maxCameras },
        points,
        { delta: manifest.distribution.delta, level },
        metrics,
        { endpoint: 'predict-multiview', model: manifest.name },
        stopAtDeadline(deadline, points.length),
      );
      const finished = performance.now();
      return {
        model: {
          name: manifest.name,
          version: manifest.version,
          trained: manifest.trained,
          executionProvider: served.executionProvider,
          precision: served.precision,
        },
        cameras: predictions.map(({ camera, image, instance }) => ({ name: camera, image, instance })),
        keypoints,
        timings: { predictMs: predicted - started, triangulateMs: finished - predicted, totalMs: finished - started },
      };
    },
  );
  done();
};
