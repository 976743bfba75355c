/**
 * A thread that fuses or triangulates points, or smooths tracks (src/evidence/evidence-pool.ts): each
 * costs milliseconds to seconds of pure arithmetic, which would otherwise hold the event loop and leave
 * the other cores idle.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { rigFromSource } from '../calibration/camera-rig.js';
import { fusePoint } from '../huber/point-fusion.js';
import { filterTrack } from '../huber/track-filter.js';
import { smoothTrack } from '../huber/track-smoother.js';
import { triangulatePoint } from '../huber/triangulation.js';
import { lowerPriority } from '../inference/thread-priority.js';
import type { WorkerReply } from '../inference/worker-pool.js';
import { refusalOf, type EvidenceJob, type EvidenceJobResult, type EvidenceWorkerData } from './evidence-job.js';
import { packTrackEstimate, trackEstimateBuffers, unpackTrackInput, type PackedTrackEstimate } from './track-codec.js';

const settings = workerData as EvidenceWorkerData;
// A failure to lower the priority costs only latency; the inference threads already log the reason.
lowerPriority(settings.nice);

function inOrder<Item, Result>(items: readonly Item[], compute: (item: Item) => Result): EvidenceJobResult<Result> {
  const results: Result[] = [];
  for (let index = 0; index < items.length; index++) {
    try {
      results.push(compute(items[index]!));
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal === null) throw error;
      return { results, refusal: { index, refusal } };
    }
  }
  return { results, refusal: null };
}

function run(job: EvidenceJob): { value: EvidenceJobResult<unknown>; transfer: ArrayBuffer[] } {
  switch (job.kind) {
    case 'fuse':
      return { value: inOrder(job.items, (observations) => fusePoint(observations, job.options)), transfer: [] };
    case 'triangulate': {
      // The request's thread built this rig already and refused it there if it was unusable.
      const rig = rigFromSource(job.rig, job.maxCameras);
      return { value: inOrder(job.items, (observations) => triangulatePoint(rig, observations, job.options)), transfer: [] };
    }
    case 'smooth': {
      const solve = job.mode === 'filter' ? filterTrack : smoothTrack;
      const value = inOrder(job.items, (packed) => packTrackEstimate(solve(unpackTrackInput(packed), job.options)));
      return { value, transfer: value.results.flatMap((packed: PackedTrackEstimate) => trackEstimateBuffers(packed)) };
    }
  }
}

parentPort!.on('message', (job: EvidenceJob) => {
  try {
    const { value, transfer } = run(job);
    parentPort!.postMessage({ ok: true, value } satisfies WorkerReply, transfer);
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({ ok: false, error: { name, message } } satisfies WorkerReply);
  }
});
parentPort!.postMessage({ ready: true } satisfies WorkerReply);
