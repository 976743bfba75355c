import type { RigSource } from '../calibration/camera-rig.js';
import type { FusionOptions, GaussianObservation } from '../huber/point-fusion.js';
import type { CameraObservation, TriangulationOptions } from '../huber/triangulation.js';

/** What the evidence threads are started with. */
export interface EvidenceWorkerData {
  /** Nice value for the thread (Linux; 0 leaves it), as for the inference threads. */
  nice: number;
}

/** A run of consecutive points of one request: fused, or triangulated in one rig. */
export type EvidenceJob =
  | { kind: 'fuse'; points: GaussianObservation[][]; options: FusionOptions }
  | { kind: 'triangulate'; rig: RigSource; maxCameras: number; points: CameraObservation[][]; options: TriangulationOptions };

/**
 * The points of a job in order, up to the first one the evidence cannot define; that one is `refusal`
 * (an EvidenceError's fields: plain data crosses the thread boundary, classes do not) and the job's
 * later points are not computed.
 */
export interface EvidenceJobResult<Point> {
  points: Point[];
  refusal: { index: number; message: string; path: string } | null;
}
