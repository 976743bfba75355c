/**
 * What the fusion, triangulation and smoothing math costs the rest of the service now that it runs on the
 * evidence threads (FUSION_THREADS; docs/fusion.md, "Where the work runs"). The service runs in a child
 * process without a model; a thread of this process probes /healthz every 20 ms through three phases:
 * idle (the baseline), two clients triangulating 64-point requests back to back (4 cameras, every point
 * with its flip partner as an alternative), and one client smoothing 100 000-frame tracks. Prints per
 * phase the probe's latencies, the service's event-loop delay and utilization and the work done, and the
 * ratio of each loaded phase's /healthz p99 to the idle one's.
 * Run: npx tsx bench/evidence-event-loop.ts (PHASE_SECONDS=n, default 10; FUSION_THREADS passes through).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

import { cameraFromIntrinsics } from '../src/huber/camera.js';
import { rigIntrinsics } from '../test/helpers/camera-rig.js';
import { createRng } from '../test/helpers/prng.js';
import { percentile, probeHealth, ServiceProcess, serviceEnv, type PhaseReport } from './service-load.js';

const PHASE_SECONDS = Number(process.env.PHASE_SECONDS ?? 10);
const POINTS = 64;
const FRAMES = 100_000;

const random = createRng(29);
const rig = rigIntrinsics();
const cameras = rig.map(({ name, intrinsics }) => cameraFromIntrinsics(name, intrinsics));
const covariance = [
  [4, 0.5],
  [0.5, 3],
];
const triangulateBody = JSON.stringify({
  cameras: rig.map(({ name, intrinsics }) => ({ name, ...intrinsics })),
  points: Array.from({ length: POINTS }, () => {
    const joint = [400 * (random.uniform() - 0.5), 300 * (random.uniform() - 0.5), 900 * random.uniform()];
    const partner = [joint[0]! + 150, joint[1]!, joint[2]!];
    return {
      observations: cameras.map((camera) => {
        const own = camera.project(joint);
        const other = camera.project(partner);
        return {
          camera: camera.name,
          mean: [own[0]! + 2 * random.normal(), own[1]! + 2 * random.normal()],
          covariance,
          alternatives: [{ mean: [other[0]!, other[1]!], covariance, prior: 0.05 }],
        };
      }),
    };
  }),
});
const smoothBody = JSON.stringify({
  motion: { accelerationNoise: 50 },
  tracks: [
    {
      observations: Array.from({ length: FRAMES }, (_, i) => ({
        t: i / 30,
        mean: [100 * Math.sin(i / 50) + random.normal(), 0.1 * i + random.normal()],
        covariance: [
          [1, 0.1],
          [0.1, 2],
        ],
      })),
    },
  ],
});

const repository = await mkdtemp(path.join(tmpdir(), 'huber-evidence-bench-'));
const service = await ServiceProcess.start(
  serviceEnv({ MODEL_REPOSITORY: repository, MODELS: '', ENSURE_DEFAULT_MODEL: 'false' }),
);

async function post(route: string, body: string): Promise<void> {
  const response = await fetch(`${service.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${route}: ${response.status} ${text.slice(0, 300)}`);
}

interface Phase {
  label: string;
  health: number[];
  report: PhaseReport;
  work: string;
}

async function phase(label: string, clients: number, route: string | null, body: string, unit: string, perRequest: number) {
  let stop = false;
  let requests = 0;
  const stopHealth = probeHealth(service.url);
  service.startPhase();
  const started = performance.now();
  const running = Array.from({ length: route === null ? 0 : clients }, async () => {
    while (!stop) {
      await post(route!, body);
      requests++;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, PHASE_SECONDS * 1000));
  stop = true;
  await Promise.all(running);
  const seconds = (performance.now() - started) / 1000;
  const report = await service.endPhase();
  const health = await stopHealth();
  const work = route === null ? '' : `${((requests * perRequest) / seconds).toFixed(0)} ${unit}/s (${requests} requests)`;
  return { label, health, report, work } satisfies Phase;
}

// Threads started and the math's code compiled before anything is measured.
await post('/v1/triangulate', triangulateBody);
await post('/v1/smooth', smoothBody);

const phases = [
  await phase('idle', 0, null, '', '', 0),
  await phase(`triangulate, 2 clients × ${POINTS} points`, 2, '/v1/triangulate', triangulateBody, 'points', POINTS),
  await phase(`smooth, 1 client × ${FRAMES} frames`, 1, '/v1/smooth', smoothBody, 'frames', FRAMES),
];
await service.stop();
await rm(repository, { recursive: true, force: true });

const idleP99 = percentile(phases[0]!.health, 99);
for (const { label, health, report, work } of phases) {
  console.log(
    `${label}: /healthz p50 ${percentile(health, 50).toFixed(1)} p99 ${percentile(health, 99).toFixed(1)} max ${Math.max(...health).toFixed(1)} ms ` +
      `(${health.length} probes, p99 ${(percentile(health, 99) / idleP99).toFixed(1)}× idle); ` +
      `event-loop delay p99 ${report.loopDelayP99Ms.toFixed(1)} max ${report.loopDelayMaxMs.toFixed(0)} ms, utilization ${report.eventLoopUtilization.toFixed(2)}` +
      (work === '' ? '' : `; ${work}`),
  );
}
console.log(
  `load average (1, 5, 15 min): ${loadavg()
    .map((value) => value.toFixed(2))
    .join(', ')}`,
);
