import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { rigFromSource, type RigSource } from '../calibration/camera-rig.js';
import type { EvidencePool } from '../evidence/evidence-pool.js';
import { badRequest, unprocessable } from '../errors.js';
import type { Camera } from '../huber/camera.js';
import { rmse } from '../huber/index.js';
import type { CameraObservation, TriangulatedPoint, TriangulationOptions } from '../huber/triangulation.js';
import type { Metrics } from '../metrics.js';
import { DEFAULT_DELTA, DEFAULT_LEVEL } from '../schemas/fusion.js';
import { problemResponses } from '../schemas/problem.js';
import { TriangulateBody, TriangulateResponse, type TriangulateRequest } from '../schemas/triangulate.js';
import { evidenceProblem, onEvidenceThreads, withEvidenceProblems } from './evidence-problems.js';
import { checkObservationCount, checkPointCount, flatten, matrixRows, type EvidenceLimits } from './fuse.js';

/** One point's evidence as the triangulation takes it, and where its values sit in the request. */
export interface PointEvidence {
  name: string | undefined;
  /** The request path of the point, e.g. `points[3]` or `keypoints[3]`. */
  path: string;
  observations: CameraObservation[];
}

/** Names a point in messages by its path and, when it has one, its name. */
function describePoint(point: PointEvidence): string {
  return point.name === undefined ? point.path : `${point.path} ("${point.name}")`;
}

/**
 * The checks the request alone decides, before any solving: cameras that exist, one observation per
 * camera, at least two cameras (docs/spec.md §9: fewer is 422, nothing is guessed).
 */
export function checkPointCameras(point: PointEvidence, rig: ReadonlyMap<string, Camera>): void {
  const seen = new Set<string>();
  point.observations.forEach((observation, j) => {
    const path = `${point.path}.observations[${j}].camera`;
    if (!rig.has(observation.camera)) {
      throw unprocessable(
        `${path} "${observation.camera}" is not one of the cameras (${[...rig.keys()].join(', ')})`,
        'unknown-camera',
        { path },
      );
    }
    if (seen.has(observation.camera)) {
      throw unprocessable(
        `${path} "${observation.camera}" observes ${describePoint(point)} twice; send one observation per camera`,
        'duplicate-camera',
        {
          path,
        },
      );
    }
    seen.add(observation.camera);
  });
  if (seen.size < 2) {
    throw unprocessable(
      `${describePoint(point)} is seen by ${seen.size} camera${seen.size === 1 ? '' : 's'}; triangulation needs at least two`,
      'too-few-cameras',
      { path: point.path },
    );
  }
}

export function triangulatedPointOut(name: string | undefined, point: TriangulatedPoint, withSensitivities: boolean) {
  return {
    ...(name === undefined ? {} : { name }),
    position: Array.from(point.position),
    mode: point.mode === null ? null : Array.from(point.mode),
    covariance: matrixRows(point.covariance, 3, 3),
    region: { level: point.region.level, radius: point.region.radius },
    rmse: rmse(point.covariance),
    iterations: point.iterations,
    converged: point.converged,
    cameras: point.cameras.map((camera) => ({
      camera: camera.camera,
      weight: camera.weight,
      mahalanobis: camera.mahalanobis,
      outlier: camera.outlier,
      component: camera.component,
      reprojection: Array.from(camera.reprojection),
      reprojectionError: camera.reprojectionError,
    })),
    ...(withSensitivities
      ? { sensitivities: point.sensitivities === null ? null : point.sensitivities.map((matrix) => matrixRows(matrix, 3, 2)) }
      : {}),
  };
}

/**
 * Triangulates every point on the pool's threads, counting what the metrics report; a refusal names the
 * first refused point's path. `beforeRun(done)` runs before each run of points is handed out and may throw
 * to stop the rest (a request's deadline).
 */
export async function triangulatePoints(
  evidence: EvidencePool,
  rig: { source: RigSource; cameras: ReadonlyMap<string, Camera>; maxCameras: number },
  points: readonly PointEvidence[],
  options: TriangulationOptions,
  metrics: Metrics,
  labels: { endpoint: string; model: string },
  beforeRun?: (done: number) => void,
) {
  for (const point of points) checkPointCameras(point, rig.cameras);
  const results = await onEvidenceThreads(
    metrics,
    labels,
    () =>
      evidence.triangulate(
        rig.source,
        rig.maxCameras,
        points.map((point) => point.observations),
        options,
        beforeRun,
      ),
    (refused) => evidenceProblem(refused.refusal, points[refused.index]!.path),
  );
  const out = results.map((result, index) => {
    metrics.evidenceIterations.observe(labels, result.iterations);
    metrics.evidenceOutliers.inc(labels, result.cameras.filter((camera) => camera.outlier).length);
    metrics.evidenceSwaps.inc(labels, result.cameras.filter((camera) => camera.component > 0).length);
    return triangulatedPointOut(points[index]!.name, result, options.sensitivities ?? false);
  });
  metrics.evidencePoints.inc(labels, points.length);
  return out;
}

type ObservationIn = TriangulateRequest['points'][number]['observations'][number];

function cameraObservation(observation: ObservationIn): CameraObservation {
  const converted: CameraObservation = {
    camera: observation.camera,
    mean: Float64Array.from(observation.mean),
    covariance: flatten(observation.covariance),
  };
  if (observation.alternatives !== undefined && observation.alternatives.length > 0) {
    converted.alternatives = observation.alternatives.map(({ mean, covariance, prior }) => ({
      mean: Float64Array.from(mean),
      covariance: flatten(covariance),
      prior,
    }));
  }
  return converted;
}

function requestRig(body: TriangulateRequest): RigSource {
  if (body.cameras !== undefined && body.calibration !== undefined) {
    throw badRequest('send the cameras either as `cameras` or as `calibration`, not both', 'cameras-or-calibration');
  }
  if (body.cameras !== undefined) return { cameras: body.cameras, source: 'cameras' };
  if (body.calibration !== undefined) return { calibration: body.calibration };
  throw badRequest(
    'the request needs its cameras: `cameras` (JSON) or `calibration` (calibration.toml text)',
    'cameras-or-calibration',
  );
}

export const triangulateRoutes: FastifyPluginCallbackTypebox<{
  metrics: Metrics;
  limits: EvidenceLimits;
  evidence: EvidencePool;
}> = (app, { metrics, limits, evidence }, done) => {
  app.post(
    '/v1/triangulate',
    {
      schema: {
        operationId: 'triangulate',
        summary: 'Triangulate 2-D keypoint distributions from calibrated cameras into 3-D points with covariance',
        description:
          'Each observation is a camera’s Huber distribution of the point in raw (distorted) pixels; alternatives (for example the flip partner) make that camera’s factor a mixture. Returns the posterior position, 3×3 covariance and region with each projection linearized at the position, the global maximum-likelihood point where unique, and per camera its weight, outlier flag, chosen component and reprojection.',
        tags: ['fusion'],
        body: TriangulateBody,
        response: {
          200: TriangulateResponse,
          ...problemResponses({
            400: 'Malformed request (schema violation, non-finite number, calibration text that is not TOML, both or neither of cameras and calibration)',
            413: 'Body larger than the configured limit',
            415: 'Unsupported content type',
            422: 'Unusable evidence or rig: unknown or duplicate camera, a point seen by fewer than two cameras or behind one, a covariance that is not symmetric positive definite, a camera that cannot project, fisheye calibration, too many points, cameras or observations',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request) => {
      const body = request.body;
      checkPointCount(body.points.length, limits);
      body.points.forEach((point, index) => checkObservationCount(point.observations.length, index, limits));
      const source = requestRig(body);
      const cameras = withEvidenceProblems('', () => rigFromSource(source, limits.maxCameras));
      const points: PointEvidence[] = body.points.map((point, index) => ({
        name: point.name,
        path: `points[${index}]`,
        observations: point.observations.map(cameraObservation),
      }));
      const options: TriangulationOptions = {
        delta: body.delta ?? DEFAULT_DELTA,
        level: body.level ?? DEFAULT_LEVEL,
        sensitivities: body.sensitivities ?? false,
      };
      const rig = { source, cameras, maxCameras: limits.maxCameras };
      return {
        points: await triangulatePoints(evidence, rig, points, options, metrics, { endpoint: 'triangulate', model: '' }),
      };
    },
  );
  done();
};
