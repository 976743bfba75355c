import type { RigSource } from '../calibration/camera-rig.js';
import { EvidenceError } from '../huber/fusion-errors.js';
import type { FusionOptions, GaussianObservation } from '../huber/point-fusion.js';
import { TrackInputError, type TrackField, type TrackOptions } from '../huber/track.js';
import { TrackConditioningError } from '../huber/track-smoother.js';
import type { CameraObservation, TriangulationOptions } from '../huber/triangulation.js';
import type { PackedTrackInput } from './track-codec.js';

/** What the evidence threads are started with. */
export interface EvidenceWorkerData {
  /** Nice value for the thread (Linux; 0 leaves it), as for the inference threads. */
  nice: number;
}

/**
 * A run of consecutive items of one request: points to fuse or to triangulate in one rig, or tracks to
 * smooth (packed, track-codec.ts; their answers come back packed too).
 */
export type EvidenceJob =
  | { kind: 'fuse'; items: GaussianObservation[][]; options: FusionOptions }
  | { kind: 'triangulate'; rig: RigSource; maxCameras: number; items: CameraObservation[][]; options: TriangulationOptions }
  | { kind: 'smooth'; mode: 'smoother' | 'filter'; items: PackedTrackInput[]; options: TrackOptions };

/**
 * A domain refusal as plain data: errors lose their class crossing a thread boundary, and the HTTP layer
 * maps each class to its own problem.
 */
export type Refusal =
  | { kind: 'evidence'; message: string; path: string }
  | { kind: 'track-input'; message: string; frame: number; field: TrackField }
  | { kind: 'track-conditioning'; message: string };

/** The refusal an error stands for, or null for an error that is not the domain's (a bug: a 500). */
export function refusalOf(error: unknown): Refusal | null {
  if (error instanceof EvidenceError) return { kind: 'evidence', message: error.message, path: error.path };
  if (error instanceof TrackInputError)
    return { kind: 'track-input', message: error.message, frame: error.frame, field: error.field };
  if (error instanceof TrackConditioningError) return { kind: 'track-conditioning', message: error.message };
  return null;
}

/** The domain error a refusal came from, of the same class and fields. */
export function refusalError(refusal: Refusal): EvidenceError | TrackInputError | TrackConditioningError {
  switch (refusal.kind) {
    case 'evidence':
      return new EvidenceError(refusal.message, refusal.path);
    case 'track-input':
      return new TrackInputError(refusal.frame, refusal.field, refusal.message);
    case 'track-conditioning':
      return new TrackConditioningError(refusal.message);
  }
}

/**
 * The items of a job in order, up to the first one the domain refuses; that one is `refusal` and the
 * job's later items are not computed.
 */
export interface EvidenceJobResult<Result> {
  results: Result[];
  refusal: { index: number; refusal: Refusal } | null;
}
