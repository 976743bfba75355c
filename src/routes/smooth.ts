import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { unprocessable } from '../errors.js';
import type { EvidencePool } from '../evidence/evidence-pool.js';
import { TrackInputError, type TrackEstimate, type TrackFrameInput } from '../huber/track.js';
import { TrackConditioningError } from '../huber/track-smoother.js';
import type { Metrics } from '../metrics.js';
import { DEFAULT_DELTA, DEFAULT_LEVEL } from '../schemas/fusion.js';
import { problemResponses } from '../schemas/problem.js';
import {
  DEFAULT_SMOOTHING_MODE,
  MAX_SMOOTHING_FRAMES,
  SmoothBody,
  SmoothResponse,
  type SmoothRequest,
} from '../schemas/smooth.js';
import { onEvidenceThreads } from './evidence-problems.js';
import { matrixRows } from './fuse.js';

type TrackIn = SmoothRequest['tracks'][number];

/** Σ as JSON rows must be d×d for its own mean; the domain then checks symmetry, definiteness and the track's dimension. */
function trackFrames(track: TrackIn, index: number): TrackFrameInput[] {
  return track.observations.map((observation, j) => {
    const path = `tracks[${index}].observations[${j}]`;
    const { t, mean, covariance } = observation;
    if (mean === null) {
      if (covariance !== undefined && covariance !== null) {
        throw unprocessable(`${path}.covariance: a missed frame (mean null) carries no covariance`, 'invalid-track', {
          path: `${path}.covariance`,
        });
      }
      return { t, mean: null };
    }
    if (covariance === undefined || covariance === null) {
      throw unprocessable(`${path}.covariance: an observed frame needs its covariance`, 'invalid-track', {
        path: `${path}.covariance`,
      });
    }
    const d = mean.length;
    if (covariance.length !== d || covariance.some((row) => row.length !== d)) {
      const shape = covariance.map((row) => row.length).join(', ');
      throw unprocessable(
        `${path}.covariance must be ${d}×${d} to match its mean; its rows have ${shape} entries`,
        'dimension-mismatch',
        {
          path: `${path}.covariance`,
        },
      );
    }
    return { t, mean, covariance: covariance.flat() };
  });
}

function frameOut(estimate: TrackEstimate, frame: TrackEstimate['frames'][number]) {
  const d = estimate.dimension;
  return {
    t: frame.t,
    mean: frame.mean === null ? null : Array.from(frame.mean),
    covariance: frame.covariance === null ? null : matrixRows(frame.covariance, d, d),
    region: frame.covariance === null ? null : { level: estimate.level, radius: estimate.regionRadius },
    velocity: frame.velocity === null ? null : Array.from(frame.velocity),
    weight: frame.weight,
    outlier: frame.outlier,
  };
}

/** The problem for a track the domain refuses, naming the track (and frame); other errors as they are. */
function trackProblem(index: number, error: unknown): unknown {
  if (error instanceof TrackInputError) {
    const path = `tracks[${index}].observations[${error.frame}].${error.field}`;
    return unprocessable(`${path}: ${error.message}`, 'invalid-track', { path });
  }
  if (error instanceof TrackConditioningError) {
    return unprocessable(`tracks[${index}]: ${error.message}`, 'ill-conditioned-track', { path: `tracks[${index}]` });
  }
  return error;
}

export const smoothRoutes: FastifyPluginCallbackTypebox<{ metrics: Metrics; evidence: EvidencePool }> = (
  app,
  { metrics, evidence },
  done,
) => {
  app.post(
    '/v1/smooth',
    {
      schema: {
        operationId: 'smooth',
        summary: 'Smooth or filter keypoint tracks over time, carrying each frame’s full covariance',
        description:
          'Each track’s frames (mean and covariance as predict returns them, or mean null for a missed frame) are Huber measurements of a constant-velocity path driven by white-noise acceleration. "smoother" returns each frame’s state in the MAP of the whole track; "filter" is causal. Per frame: mean, covariance, region, velocity, the measurement’s weight and an outlier flag. docs/spec.md §9.',
        tags: ['fusion'],
        body: SmoothBody,
        response: {
          200: SmoothResponse,
          ...problemResponses({
            400: 'Malformed request (schema violation, non-finite number)',
            413: 'Body larger than the configured limit',
            415: 'Unsupported content type',
            422: 'A frame that cannot be used, named by its path (times not strictly increasing, a singular, non-symmetric or non-positive-definite covariance, mixed dimensions within a track, a missing covariance), or too many frames',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request) => {
      const { tracks, motion } = request.body;
      const delta = request.body.delta ?? DEFAULT_DELTA;
      const level = request.body.level ?? DEFAULT_LEVEL;
      const mode = request.body.mode ?? DEFAULT_SMOOTHING_MODE;
      const q = motion.accelerationNoise;
      if (!Number.isFinite(q)) {
        throw unprocessable(`motion.accelerationNoise must be finite, got ${q}`, 'invalid-track', {
          path: 'motion.accelerationNoise',
        });
      }
      const frameCount = tracks.reduce((sum, track) => sum + track.observations.length, 0);
      if (frameCount > MAX_SMOOTHING_FRAMES) {
        throw unprocessable(
          `${frameCount} frames sent, more than the limit of ${MAX_SMOOTHING_FRAMES} per request`,
          'too-many-frames',
          {
            path: 'tracks',
          },
        );
      }
      const inputs = tracks.map(trackFrames);
      const labels = { mode };
      const estimates = await onEvidenceThreads(
        metrics,
        { endpoint: 'smooth', model: '' },
        () => evidence.smooth(mode, inputs, { delta, level, accelerationNoise: q }),
        (refused) => trackProblem(refused.index, refused.refusal),
      );
      const out = tracks.map((track, index) => {
        const estimate = estimates[index]!;
        metrics.smoothingIterations.observe(labels, estimate.iterations);
        metrics.smoothingOutliers.inc(labels, estimate.outliers);
        return {
          ...(track.name === undefined ? {} : { name: track.name }),
          iterations: estimate.iterations,
          converged: estimate.converged,
          outliers: estimate.outliers,
          frames: estimate.frames.map((frame) => frameOut(estimate, frame)),
        };
      });
      metrics.smoothingTracks.inc(labels, tracks.length);
      metrics.smoothingFrames.inc(labels, frameCount);
      return { mode, tracks: out };
    },
  );
  done();
};
