import type { RigSource } from '../calibration/camera-rig.js';
import type { EvidenceError } from '../huber/fusion-errors.js';
import type { FusedPoint, FusionOptions, GaussianObservation } from '../huber/point-fusion.js';
import type { TrackEstimate, TrackFrameInput, TrackInputError, TrackOptions } from '../huber/track.js';
import type { TrackConditioningError } from '../huber/track-smoother.js';
import type { CameraObservation, TriangulatedPoint, TriangulationOptions } from '../huber/triangulation.js';
import { workerEntry } from '../inference/worker-file.js';
import { WorkerPool } from '../inference/worker-pool.js';
import { refusalError, type EvidenceJob, type EvidenceJobResult, type EvidenceWorkerData } from './evidence-job.js';
import { packTrackInput, trackInputBuffers, unpackTrackEstimate, type PackedTrackEstimate } from './track-codec.js';

/**
 * The longest run of items (points or tracks) one job carries. A point costs a few milliseconds, so a run
 * of 4 keeps the hand-off per job small against the work while a deadline check (before each run) is
 * never more than one run late.
 */
const MAX_RUN = 4;
/** Runs per thread a request is cut into at least, so that the threads finish together. */
const RUNS_PER_THREAD = 2;

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** An item (point or track) the domain refuses; `index` is its place among the items asked for. */
export class RefusedItemError extends Error {
  override name = 'RefusedItemError';
  constructor(
    readonly index: number,
    readonly refusal: EvidenceError | TrackInputError | TrackConditioningError,
  ) {
    super(refusal.message);
  }
}

export interface EvidencePoolOptions {
  /** Threads; they start with the first request that triangulates. */
  size: number;
  /** Nice value for the threads (Linux; 0 leaves it). */
  nice: number;
  /** Told about every thread that had to be replaced, for the log. */
  onReplace?: (reason: 'crash' | 'timeout', detail: string) => void;
}

/**
 * Fusion, triangulation and smoothing off the event loop and on every core (docs/fusion.md, "Where the
 * work runs"): a request's points or tracks are cut into runs that worker threads take in order.
 */
export class EvidencePool {
  private pool: WorkerPool | null = null;
  private closed = false;

  constructor(private readonly options: EvidencePoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`an evidence pool needs at least one thread, got ${options.size}`);
    }
  }

  /** Starts every thread now rather than with the first request; resolves once all are ready. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the evidence pool is closed');
    await this.workers().whenStarted();
  }

  /** Runs handed out and not yet answered, or waiting for a thread. */
  get pending(): number {
    return this.pool?.pending ?? 0;
  }

  private workers(): WorkerPool {
    if (this.pool === null) {
      const entry = workerEntry('../evidence/evidence-worker.js', import.meta.url);
      this.pool = new WorkerPool({
        filename: entry.filename,
        argv: entry.argv,
        workerData: { nice: this.options.nice } satisfies EvidenceWorkerData,
        size: this.options.size,
        onReplace: this.options.onReplace,
      });
    }
    return this.pool;
  }

  /** The points fused, in order; refusals and `beforeRun` as for inOrder. */
  fuse(
    points: readonly GaussianObservation[][],
    options: FusionOptions,
    beforeRun?: (done: number) => void,
  ): Promise<FusedPoint[]> {
    return this.inOrder<GaussianObservation[], FusedPoint>(
      points,
      (slice) => ({ kind: 'fuse', items: slice, options }),
      beforeRun,
    );
  }

  /** The points triangulated in `rig`, in order; refusals and `beforeRun` as for inOrder. */
  triangulate(
    rig: RigSource,
    maxCameras: number,
    points: readonly CameraObservation[][],
    options: TriangulationOptions,
    beforeRun?: (done: number) => void,
  ): Promise<TriangulatedPoint[]> {
    return this.inOrder<CameraObservation[], TriangulatedPoint>(
      points,
      (slice) => ({ kind: 'triangulate', rig, maxCameras, items: slice, options }),
      beforeRun,
    );
  }

  /** The tracks smoothed (or filtered), in order; refusals as for inOrder. */
  async smooth(
    mode: 'smoother' | 'filter',
    tracks: readonly TrackFrameInput[][],
    options: TrackOptions,
  ): Promise<TrackEstimate[]> {
    const packed = await this.inOrder<TrackFrameInput[], PackedTrackEstimate>(
      tracks,
      (slice) => ({ kind: 'smooth', mode, items: slice.map(packTrackInput), options }),
      undefined,
      (job) => (job.kind === 'smooth' ? job.items.flatMap(trackInputBuffers) : []),
    );
    return packed.map(unpackTrackEstimate);
  }

  /**
   * Every item's result, in order, with the same outcome as one by one on this thread: a refusal is the
   * first in item order (RefusedItemError), whatever thread met it first. `beforeRun(done)` runs before
   * each run is handed out and may throw to stop the rest (a deadline); runs already out are awaited, so
   * nothing is left running for a request that has ended.
   */
  private async inOrder<Item, Result>(
    items: readonly Item[],
    jobOf: (slice: Item[]) => EvidenceJob,
    beforeRun: ((done: number) => void) | undefined,
    transferOf: (job: EvidenceJob) => ArrayBuffer[] = () => [],
  ): Promise<Result[]> {
    if (this.closed) throw new Error('the evidence pool is closed');
    if (items.length === 0) return [];
    const pool = this.workers();
    const runLength = Math.max(1, Math.min(MAX_RUN, Math.ceil(items.length / (RUNS_PER_THREAD * this.options.size))));
    const results: Result[] = new Array<Result>(items.length);
    // Set from the jobs' callbacks; an object, since TypeScript does not see a closure's assignments.
    const outcome: { refused: RefusedItemError | null; failure: Error | null; stopped: Error | null } = {
      refused: null,
      failure: null,
      stopped: null,
    };
    let done = 0;
    let next = 0;

    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const handOut = (): void => {
        while (
          inFlight < this.options.size &&
          next < items.length &&
          outcome.refused === null &&
          outcome.failure === null &&
          outcome.stopped === null
        ) {
          try {
            beforeRun?.(done);
          } catch (error) {
            outcome.stopped = asError(error);
            break;
          }
          const start = next;
          next = Math.min(items.length, start + runLength);
          inFlight++;
          const job = jobOf(items.slice(start, next));
          void pool
            .run<EvidenceJobResult<Result>>(job, { transferList: transferOf(job) })
            .then(
              (value) => {
                value.results.forEach((result, offset) => (results[start + offset] = result));
                done += value.results.length;
                if (value.refusal !== null) {
                  const index = start + value.refusal.index;
                  if (outcome.refused === null || index < outcome.refused.index) {
                    outcome.refused = new RefusedItemError(index, refusalError(value.refusal.refusal));
                  }
                }
              },
              (error: unknown) => {
                outcome.failure ??= asError(error);
              },
            )
            .finally(() => {
              inFlight--;
              handOut();
            });
        }
        if (inFlight === 0) resolve();
      };
      handOut();
    });

    if (outcome.refused !== null) throw outcome.refused;
    if (outcome.failure !== null) throw outcome.failure;
    if (outcome.stopped !== null) throw outcome.stopped;
    return results;
  }

  /** Lets runs in progress finish, then stops the threads. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }
}
