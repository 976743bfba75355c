import type { TrackEstimate, TrackFrameEstimate, TrackFrameInput } from '../huber/track.js';

/**
 * Tracks in a few flat arrays for the trip to and from the evidence threads. Structured clone copies
 * every frame's small arrays one by one (a 100 000-frame track's answer took 1.2 s to clone, on the event
 * loop's side too); flat arrays go across by transfer, without a copy, and the frames read them through
 * views. Values and nulls come back exactly as they went (an absent input covariance as null).
 */

/** A track's frames: row i's values are values[start[i] .. start[i + 1]), and `present[i]` = 0 means null. */
interface Column {
  values: Float64Array;
  start: Int32Array;
  present: Uint8Array;
}

export interface PackedTrackInput {
  t: Float64Array;
  mean: Column;
  covariance: Column;
}

export interface PackedTrackEstimate {
  dimension: number;
  level: number;
  regionRadius: number;
  iterations: number;
  converged: boolean;
  outliers: number;
  t: Float64Array;
  mean: Column;
  covariance: Column;
  velocity: Column;
  /** NaN for null; the `…Present` arrays say which. */
  weight: Float64Array;
  mahalanobis: Float64Array;
  weightPresent: Uint8Array;
  mahalanobisPresent: Uint8Array;
  outlier: Uint8Array;
}

function packColumn(rows: readonly (ArrayLike<number> | null | undefined)[]): Column {
  const start = new Int32Array(rows.length + 1);
  const present = new Uint8Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    present[i] = row === null || row === undefined ? 0 : 1;
    start[i + 1] = start[i]! + (row?.length ?? 0);
  }
  const values = new Float64Array(start[rows.length]!);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row !== null && row !== undefined) for (let j = 0; j < row.length; j++) values[start[i]! + j] = row[j]!;
  }
  return { values, start, present };
}

function rowOf(column: Column, i: number): Float64Array | null {
  return column.present[i] === 1 ? column.values.subarray(column.start[i], column.start[i + 1]) : null;
}

function columnBuffers(column: Column): ArrayBuffer[] {
  return [column.values.buffer as ArrayBuffer, column.start.buffer as ArrayBuffer, column.present.buffer as ArrayBuffer];
}

export function packTrackInput(frames: readonly TrackFrameInput[]): PackedTrackInput {
  return {
    t: Float64Array.from(frames, (frame) => frame.t),
    mean: packColumn(frames.map((frame) => frame.mean)),
    covariance: packColumn(frames.map((frame) => frame.covariance)),
  };
}

export function unpackTrackInput(packed: PackedTrackInput): TrackFrameInput[] {
  // An absent covariance comes back as null, which the track code reads the same way.
  return Array.from(packed.t, (t, i) => ({ t, mean: rowOf(packed.mean, i), covariance: rowOf(packed.covariance, i) }));
}

export function packTrackEstimate(estimate: TrackEstimate): PackedTrackEstimate {
  const { frames } = estimate;
  return {
    dimension: estimate.dimension,
    level: estimate.level,
    regionRadius: estimate.regionRadius,
    iterations: estimate.iterations,
    converged: estimate.converged,
    outliers: estimate.outliers,
    t: Float64Array.from(frames, (frame) => frame.t),
    mean: packColumn(frames.map((frame) => frame.mean)),
    covariance: packColumn(frames.map((frame) => frame.covariance)),
    velocity: packColumn(frames.map((frame) => frame.velocity)),
    weight: Float64Array.from(frames, (frame) => frame.weight ?? Number.NaN),
    mahalanobis: Float64Array.from(frames, (frame) => frame.mahalanobis ?? Number.NaN),
    weightPresent: Uint8Array.from(frames, (frame) => (frame.weight === null ? 0 : 1)),
    mahalanobisPresent: Uint8Array.from(frames, (frame) => (frame.mahalanobis === null ? 0 : 1)),
    outlier: Uint8Array.from(frames, (frame) => (frame.outlier ? 1 : 0)),
  };
}

export function unpackTrackEstimate(packed: PackedTrackEstimate): TrackEstimate {
  const frames: TrackFrameEstimate[] = Array.from(packed.t, (t, i) => ({
    t,
    mean: rowOf(packed.mean, i),
    covariance: rowOf(packed.covariance, i),
    velocity: rowOf(packed.velocity, i),
    weight: packed.weightPresent[i] === 1 ? packed.weight[i]! : null,
    mahalanobis: packed.mahalanobisPresent[i] === 1 ? packed.mahalanobis[i]! : null,
    outlier: packed.outlier[i] === 1,
  }));
  const { dimension, level, regionRadius, iterations, converged, outliers } = packed;
  return { dimension, level, regionRadius, frames, iterations, converged, outliers };
}

/** The buffers a packed track can hand over instead of copying. */
export function trackInputBuffers(packed: PackedTrackInput): ArrayBuffer[] {
  return [packed.t.buffer as ArrayBuffer, ...columnBuffers(packed.mean), ...columnBuffers(packed.covariance)];
}

export function trackEstimateBuffers(packed: PackedTrackEstimate): ArrayBuffer[] {
  return [
    packed.t.buffer as ArrayBuffer,
    ...columnBuffers(packed.mean),
    ...columnBuffers(packed.covariance),
    ...columnBuffers(packed.velocity),
    ...[packed.weight, packed.mahalanobis, packed.weightPresent, packed.mahalanobisPresent, packed.outlier].map(
      (array) => array.buffer as ArrayBuffer,
    ),
  ];
}
