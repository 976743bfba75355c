/**
 * A thread that fuses or triangulates points (src/evidence/evidence-pool.ts): a point costs
 * milliseconds of pure arithmetic, which would otherwise hold the event loop and leave the other cores idle.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { rigFromSource } from '../calibration/camera-rig.js';
import { EvidenceError } from '../huber/fusion-errors.js';
import { fusePoint } from '../huber/point-fusion.js';
import { triangulatePoint } from '../huber/triangulation.js';
import { lowerPriority } from '../inference/thread-priority.js';
import type { WorkerReply } from '../inference/worker-pool.js';
import type { EvidenceJob, EvidenceJobResult, EvidenceWorkerData } from './evidence-job.js';

const settings = workerData as EvidenceWorkerData;
// A failure to lower the priority costs only latency; the inference threads already log the reason.
lowerPriority(settings.nice);

function inOrder<Input, Point>(inputs: readonly Input[], compute: (input: Input) => Point): EvidenceJobResult<Point> {
  const points: Point[] = [];
  for (let index = 0; index < inputs.length; index++) {
    try {
      points.push(compute(inputs[index]!));
    } catch (error) {
      if (!(error instanceof EvidenceError)) throw error;
      return { points, refusal: { index, message: error.message, path: error.path } };
    }
  }
  return { points, refusal: null };
}

function run(job: EvidenceJob): EvidenceJobResult<unknown> {
  if (job.kind === 'fuse') return inOrder(job.points, (observations) => fusePoint(observations, job.options));
  // The request's thread built this rig already and refused it there if it was unusable.
  const rig = rigFromSource(job.rig, job.maxCameras);
  return inOrder(job.points, (observations) => triangulatePoint(rig, observations, job.options));
}

parentPort!.on('message', (job: EvidenceJob) => {
  try {
    parentPort!.postMessage({ ok: true, value: run(job) } satisfies WorkerReply);
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    parentPort!.postMessage({ ok: false, error: { name, message } } satisfies WorkerReply);
  }
});
parentPort!.postMessage({ ready: true } satisfies WorkerReply);
