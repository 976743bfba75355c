import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { unprocessable } from '../errors.js';
import { ellipseFromCovariance, rmse } from '../huber/index.js';
import type { EvidencePool } from '../evidence/evidence-pool.js';
import type { FusedPoint } from '../huber/point-fusion.js';
import type { Metrics } from '../metrics.js';
import { DEFAULT_DELTA, DEFAULT_LEVEL } from '../schemas/fusion.js';
import { FuseBody, FuseResponse, type FuseRequest } from '../schemas/fuse.js';
import { problemResponses } from '../schemas/problem.js';
import { evidenceProblem, onEvidenceThreads } from './evidence-problems.js';

export interface EvidenceLimits {
  maxPoints: number;
  maxCameras: number;
  maxObservationsPerPoint: number;
}

/** A row-major r×c matrix as JSON rows. */
export function matrixRows(values: ArrayLike<number>, rows: number, columns: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (_, c) => values[r * columns + c] ?? Number.NaN));
}

/** JSON rows as one row-major array; the caller has checked the shape. */
export function flatten(rows: readonly (readonly number[])[]): Float64Array {
  return Float64Array.from(rows.flat());
}

export function checkPointCount(count: number, limits: EvidenceLimits): void {
  if (count > limits.maxPoints) {
    throw unprocessable(`${count} points sent, more than the limit of ${limits.maxPoints}`, 'too-many-points', {
      path: 'points',
    });
  }
}

export function checkObservationCount(count: number, index: number, limits: EvidenceLimits): void {
  if (count > limits.maxObservationsPerPoint) {
    throw unprocessable(
      `points[${index}].observations has ${count} entries, more than the limit of ${limits.maxObservationsPerPoint}`,
      'too-many-observations',
      { path: `points[${index}].observations` },
    );
  }
}

type FusePointIn = FuseRequest['points'][number];

/** Every observation of a point must have the dimension of its first one: 2-D and 3-D are not mixed. */
function checkDimensions(point: FusePointIn, index: number): number {
  const first = point.observations[0];
  const d = first ? first.mean.length : 0;
  point.observations.forEach((observation, j) => {
    const path = `points[${index}].observations[${j}]`;
    if (observation.mean.length !== d) {
      throw unprocessable(
        `${path}.mean has ${observation.mean.length} coordinates but points[${index}].observations[0].mean has ${d}`,
        'dimension-mismatch',
        { path: `${path}.mean` },
      );
    }
    const square = observation.covariance.length === d && observation.covariance.every((row) => row.length === d);
    if (!square) {
      const shape = observation.covariance.map((row) => row.length).join(', ');
      throw unprocessable(
        `${path}.covariance must be ${d}×${d} to match its mean; its rows have ${shape} entries`,
        'dimension-mismatch',
        {
          path: `${path}.covariance`,
        },
      );
    }
  });
  return d;
}

function fusedPointOut(name: string | undefined, d: number, fused: FusedPoint, withSensitivities: boolean) {
  const covariance = matrixRows(fused.covariance, d, d);
  const c = fused.covariance;
  return {
    ...(name === undefined ? {} : { name }),
    mean: Array.from(fused.mean),
    mode: fused.mode === null ? null : Array.from(fused.mode),
    covariance,
    region: { level: fused.region.level, radius: fused.region.radius },
    ...(d === 2
      ? {
          ellipse: ellipseFromCovariance(
            c[0] ?? 0,
            0.5 * ((c[1] ?? 0) + (c[2] ?? 0)),
            c[3] ?? 0,
            1,
            fused.region.radius,
            fused.region.level,
          ),
        }
      : {}),
    rmse: rmse(fused.covariance),
    iterations: fused.iterations,
    converged: fused.converged,
    observations: fused.observations.map(({ weight, mahalanobis, outlier }) => ({ weight, mahalanobis, outlier })),
    ...(withSensitivities
      ? { sensitivities: fused.sensitivities === null ? null : fused.sensitivities.map((matrix) => matrixRows(matrix, d, d)) }
      : {}),
  };
}

export const fuseRoutes: FastifyPluginCallbackTypebox<{ metrics: Metrics; limits: EvidenceLimits; evidence: EvidencePool }> = (
  app,
  { metrics, limits, evidence },
  done,
) => {
  app.post(
    '/v1/fuse',
    {
      schema: {
        operationId: 'fuse',
        summary: 'Fuse independent observations of points (2-D or 3-D) into their posterior',
        description:
          'Each point’s observations (mean and covariance, as predict returns them) are independent Huber evidence; returns the flat-prior posterior mean, covariance and level region, the maximum-likelihood point where unique, and per-observation weights and outlier flags.',
        tags: ['fusion'],
        body: FuseBody,
        response: {
          200: FuseResponse,
          ...problemResponses({
            400: 'Malformed request (schema violation, non-finite number)',
            413: 'Body larger than the configured limit',
            415: 'Unsupported content type',
            422: 'Evidence that is not a distribution (singular, non-symmetric or non-positive-definite covariance), mixed dimensions, or too many points or observations',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request) => {
      const { points } = request.body;
      const delta = request.body.delta ?? DEFAULT_DELTA;
      const level = request.body.level ?? DEFAULT_LEVEL;
      const sensitivities = request.body.sensitivities ?? false;
      checkPointCount(points.length, limits);
      points.forEach((point, index) => checkObservationCount(point.observations.length, index, limits));
      const dimensions = points.map(checkDimensions);
      const labels = { endpoint: 'fuse', model: '' };
      const observations = points.map((point) =>
        point.observations.map(({ mean, covariance }) => ({ mean: Float64Array.from(mean), covariance: flatten(covariance) })),
      );
      const fused = await onEvidenceThreads(
        metrics,
        labels,
        () => evidence.fuse(observations, { delta, level, sensitivities }),
        (refused) => evidenceProblem(refused.refusal, `points[${refused.index}]`),
      );
      const out = fused.map((result, index) => {
        metrics.evidenceIterations.observe(labels, result.iterations);
        metrics.evidenceOutliers.inc(labels, result.observations.filter((observation) => observation.outlier).length);
        return fusedPointOut(points[index]!.name, dimensions[index] ?? 0, result, sensitivities);
      });
      metrics.evidencePoints.inc(labels, points.length);
      return { points: out };
    },
  );
  done();
};
