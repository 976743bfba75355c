// npm run bench: the bare model against the service over HTTP, in one run on one machine.
// Configuration comes from the environment exactly as for the service (EXECUTION_PROVIDERS,
// WORKERS_PER_MODEL, INTRA_OP_THREADS, MAX_BATCH_SIZE, MAX_BATCH_WAIT_MS, ...), so the same command
// measures a CUDA machine; BENCH_* variables only shape the run itself.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { existsSync, statSync } from 'node:fs';
import { executionProviders, intraOpThreads, loadConfig, sessionLayout, type Config } from '../src/config.js';
import { cudaUnavailableReason } from '../src/inference/cuda-availability.js';
import { DEFAULT_MODEL_NAME, defaultManifest, ensureDefaultModel } from '../tools/model-builder/default-model.js';
import { planCrop, sampleCrop } from '../src/pipeline/crop-sampler.js';
import { decodeImage } from '../src/pipeline/image-decoder.js';
import { openLimitSession, openParallelLimit, type LimitPoint, type LimitSession } from './limit.js';
import { load, median, percentile, probeHealth, root, scrape, serviceEnv, ServiceProcess } from './service-load.js';
import { syntheticPhoto } from './synthetic-photo.js';

const numberFrom = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const durationSeconds = numberFrom('BENCH_DURATION_S', 12);
const warmupSeconds = numberFrom('BENCH_WARMUP_S', 3);
const limitSeconds = numberFrom('BENCH_LIMIT_S', 4);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? '1,4,8').split(',').map(Number);
const description = process.env.BENCH_DESCRIPTION ?? 'resnet101-cpu';
const limitBatches = (process.env.BENCH_BATCHES ?? '1,2,4,8').split(',').map(Number);
// The variant measured beside the FP32 model (docs/variants.md); skipped, with the command that makes
// it, when its folder is missing. On a GPU: BENCH_VARIANT=resnet101-huber-wflw-fp16 BENCH_BATCHES=1,8,32.
const variantName = process.env.BENCH_VARIANT ?? `${DEFAULT_MODEL_NAME}-int8`;
const variantConcurrencies = (process.env.BENCH_VARIANT_CONCURRENCY ?? '8').split(',').map(Number);
const runNaive = (process.env.BENCH_NAIVE ?? 'true') !== 'false';

const targets = {
  ratioAtC8: 0.95,
  variantRatioAtC8: 2.5,
  healthP99Ms: 10,
  loopDelayP99Ms: 20,
  peakRssBytes: 1.5 * 2 ** 30,
  singleLatencyFactor: 1.15,
};

interface LoadPoint {
  concurrency: number;
  requests: number;
  requestsPerSecond: number;
  cropsPerSecond: number;
  ratioToLimit: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  non2xx: number;
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** GET /healthz answered while the load ran, one probe at a time every 20 ms, from another thread. */
  healthzP50Ms: number;
  healthzP99Ms: number;
  healthzProbes: number;
  peakRssBytes: number;
  averageBatchSize: number;
  meanQueueMs: number;
  meanInferenceMs: number;
  /** The bare model at its best batch size, measured just before this phase while the service idled. */
  adjacentLimitImagesPerSecond: number;
  ratioToAdjacentLimit: number;
  loadAverage1m: number;
  /**
   * CPU time per request the service's model inferred in the phase, by thread: the event loop (HTTP,
   * JSON, base64, crop sampling, post-processing; the bench's own 1 ms loop-delay timer included),
   * libvips (JPEG decode) and everything else (inference above all).
   */
  cpuMsPerRequest: { eventLoop: number; eventLoopKernel: number; libvips: number; other: number };
}

function perRequest(
  cpuSeconds: { eventLoop: number; eventLoopSystem: number; libvips: number; other: number },
  requests: number,
): LoadPoint['cpuMsPerRequest'] {
  const ms = (seconds: number) => (requests > 0 ? (1000 * seconds) / requests : NaN);
  return {
    eventLoop: ms(cpuSeconds.eventLoop),
    eventLoopKernel: ms(cpuSeconds.eventLoopSystem),
    libvips: ms(cpuSeconds.libvips),
    other: ms(cpuSeconds.other),
  };
}

async function measureService(
  label: string,
  env: NodeJS.ProcessEnv,
  body: string,
  cropsPerRequest: number,
  limitImagesPerSecond: () => number,
  adjacentLimit: () => Promise<number>,
  connectionsList: readonly number[] = concurrencies,
): Promise<{ points: LoadPoint[]; lifetimeMaxRssBytes: number; executionProvider: string; precision: string }> {
  const service = await ServiceProcess.start(env);
  const model = env.MODELS!.split(',')[0]!.trim();
  const url = `${service.url}/v1/models/${model}/predict`;
  try {
    const probe = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const probeBody = (await probe.json()) as { model?: { executionProvider?: string; precision?: string } };
    if (probe.status !== 200) throw new Error(`${label}: probe request answered ${probe.status}: ${JSON.stringify(probeBody)}`);
    const points: LoadPoint[] = [];
    let lifetimeMaxRssBytes = 0;
    for (const connections of connectionsList) {
      if (warmupSeconds > 0) await load(url, body, connections, warmupSeconds);
      const adjacent = await adjacentLimit();
      const before = await scrape(service.url, model);
      service.startPhase();
      const stopProbe = probeHealth(service.url);
      const result = await load(url, body, connections, durationSeconds);
      const health = await stopProbe();
      const phase = await service.endPhase();
      const after = await scrape(service.url, model);
      lifetimeMaxRssBytes = Math.max(lifetimeMaxRssBytes, phase.lifetimeMaxRssBytes);
      const ok = result['2xx'];
      const requestsPerSecond = ok / result.duration;
      const cropsPerSecond = requestsPerSecond * cropsPerRequest;
      const batches = after.batchCount - before.batchCount;
      const point: LoadPoint = {
        concurrency: connections,
        requests: ok,
        requestsPerSecond,
        cropsPerSecond,
        ratioToLimit: cropsPerSecond / limitImagesPerSecond(),
        latencyP50Ms: result.latency.p50,
        latencyP99Ms: result.latency.p99,
        errors: result.errors,
        non2xx: result.non2xx,
        loopDelayP50Ms: phase.loopDelayP50Ms,
        loopDelayP99Ms: phase.loopDelayP99Ms,
        loopDelayMaxMs: phase.loopDelayMaxMs,
        healthzP50Ms: percentile(health, 50),
        healthzP99Ms: percentile(health, 99),
        healthzProbes: health.length,
        peakRssBytes: phase.peakRssBytes,
        averageBatchSize: batches > 0 ? (after.batchSum - before.batchSum) / batches : 0,
        meanQueueMs: (1000 * (after.queueSum - before.queueSum)) / Math.max(1, after.queueCount - before.queueCount),
        meanInferenceMs: (1000 * (after.inferenceSum - before.inferenceSum)) / Math.max(1, batches),
        adjacentLimitImagesPerSecond: adjacent,
        ratioToAdjacentLimit: cropsPerSecond / adjacent,
        loadAverage1m: os.loadavg()[0]!,
        cpuMsPerRequest: perRequest(phase.cpuSeconds, (after.batchSum - before.batchSum) / cropsPerRequest),
      };
      points.push(point);
      console.log(
        `  ${label} c=${connections}: ${requestsPerSecond.toFixed(2)} req/s, ${cropsPerSecond.toFixed(2)} crops/s, ` +
          `p50 ${point.latencyP50Ms} ms, p99 ${point.latencyP99Ms} ms, batch ${point.averageBatchSize.toFixed(2)}, ` +
          `ratio ${point.ratioToLimit.toFixed(2)} (adjacent ${point.ratioToAdjacentLimit.toFixed(2)}), loop p99 ${point.loopDelayP99Ms.toFixed(1)} ms, /healthz p99 ${point.healthzP99Ms.toFixed(1)} ms, rss ${(point.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
          `CPU per request: loop ${point.cpuMsPerRequest.eventLoop.toFixed(1)} ms, libvips ${point.cpuMsPerRequest.libvips.toFixed(1)} ms, rest ${point.cpuMsPerRequest.other.toFixed(0)} ms` +
          (result.errors + result.non2xx > 0 ? `, ${result.errors} errors, ${result.non2xx} non-2xx` : ''),
      );
    }
    return {
      points,
      lifetimeMaxRssBytes,
      executionProvider: probeBody.model?.executionProvider ?? 'unknown',
      precision: probeBody.model?.precision ?? 'unknown',
    };
  } finally {
    await service.stop();
  }
}

/** What one request costs the event loop and libvips before inference: decode, then both TTA crops. */
async function measureDecode(jpeg: Buffer, box: { x: number; y: number; width: number; height: number }, config: Config) {
  const manifest = defaultManifest();
  const itemSize = 3 * manifest.input.size ** 2;
  const target = new Float32Array(2 * itemSize);
  const decode: number[] = [];
  const crop: number[] = [];
  for (let i = 0; i < 15; i++) {
    const started = performance.now();
    const image = await decodeImage(jpeg, { maxPixels: config.MAX_IMAGE_PIXELS });
    const decoded = performance.now();
    const geometry = planCrop(box, manifest.crop.scale, manifest.input.size);
    sampleCrop(image, geometry, manifest.crop.padding, manifest.input, target, 0, itemSize);
    crop.push(performance.now() - decoded);
    decode.push(decoded - started);
  }
  return { decodeMs: median(decode), cropMs: median(crop), totalMs: median(decode) + median(crop) };
}

async function main(): Promise<void> {
  const started = performance.now();
  const config = loadConfig(serviceEnv({}));
  const repository = config.MODEL_REPOSITORY;
  const { modelPath } = await ensureDefaultModel(repository);
  const manifest = defaultManifest();
  const providers = executionProviders(config);
  const { jpeg, face } = await syntheticPhoto();
  const tta = true;
  const cropsPerRequest = tta ? 2 : 1;
  const body = JSON.stringify({ image: jpeg.toString('base64'), boxes: [face], tta });
  const ortVersion = JSON.parse(await readFile(path.join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8'))
    .version as string;
  const cpus = os.cpus();
  const machine = {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: ortVersion,
    loadAverageAtStart: os.loadavg(),
  };
  console.log(
    `machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, node ${machine.node}, onnxruntime-node ${ortVersion}`,
  );
  console.log(`image: 1280×720 JPEG, ${jpeg.length} bytes, box ${JSON.stringify(face)}, tta ${tta}`);

  const decode = await measureDecode(jpeg, face, config);
  console.log(
    `decode ${decode.decodeMs.toFixed(1)} ms + crops ${decode.cropMs.toFixed(1)} ms per request (median, one at a time)`,
  );

  // (1) The limit, in every layout the machine could run the model: one session using all cores
  // (the old default) and the service's own layout when that differs (one single-threaded session
  // per core by default on a CPU). The best figure of the run is the denominator, so a layout whose
  // own bare speed is lower never makes the service look better.
  const usableProviders = providers.filter((provider) => provider !== 'cuda' || cudaUnavailableReason() === null);
  // Each model in the layouts the service would give it (by its own file size: an INT8 variant may get
  // one session per core where the FP32 model gets one using every core) and in one session using all cores.
  const layoutsFor = (file: string) => {
    const served = sessionLayout(config, usableProviders, statSync(file).size);
    const own = [{ sessions: 1, threads: intraOpThreads(config, 1) }];
    if (served.workers > 1) own.push({ sessions: served.workers, threads: served.intraOpThreads });
    return { served, layouts: own };
  };
  const { served: servedLayout, layouts } = layoutsFor(modelPath);
  const workers = servedLayout.workers;
  const openLayout = (file: string, layout: { sessions: number; threads: number }): Promise<LimitSession> => {
    const options = {
      modelPath: file,
      inputName: manifest.input.name,
      inputSize: manifest.input.size,
      executionProviders: usableProviders,
      intraOpThreads: layout.threads,
      interOpThreads: config.INTER_OP_THREADS,
      graphOptimization: config.GRAPH_OPTIMIZATION,
    };
    return layout.sessions === 1
      ? openLimitSession(options)
      : openParallelLimit({ ...options, sessions: layout.sessions, outputName: manifest.output.name });
  };
  const limitSessions: LimitSession[] = [];
  for (const layout of layouts) limitSessions.push(await openLayout(modelPath, layout));
  const limitSession = limitSessions[0]!;
  const variantManifestPath = path.join(repository, variantName, 'manifest.json');
  const variantManifest = existsSync(variantManifestPath)
    ? (JSON.parse(await readFile(variantManifestPath, 'utf8')) as { file: string; precision?: string; deviation?: unknown })
    : null;
  if (!variantManifest) {
    console.log(
      `variant ${variantName} not in ${repository}: skipped (make it with npm run models:variant -- --model ${DEFAULT_MODEL_NAME} --precision int8)`,
    );
  }
  const variantSessions: LimitSession[] = [];
  const variantLayout = variantManifest ? layoutsFor(path.join(repository, variantName, variantManifest.file)) : null;
  if (variantManifest && variantLayout) {
    for (const layout of variantLayout.layouts)
      variantSessions.push(await openLayout(path.join(repository, variantName, variantManifest.file), layout));
  }
  const limitPoints: LimitPoint[] = [];
  const variantLimitPoints: LimitPoint[] = [];
  // Interleaved batch by batch and layout by layout, so a neighbour's load hits every figure alike.
  for (const batch of limitBatches) {
    for (let index = 0; index < Math.max(limitSessions.length, variantSessions.length); index++) {
      const session = limitSessions[index];
      if (session) {
        const point = await session.measure(batch, limitSeconds);
        limitPoints.push(point);
        console.log(
          `limit (${session.executionProvider}, ${point.layout} sessions × threads) batch ${batch}: ${point.imagesPerSecond.toFixed(2)} img/s, ${point.msPerRun.toFixed(1)} ms/run`,
        );
      }
      const variantSession = variantSessions[index];
      if (variantSession) {
        const variantPoint = await variantSession.measure(batch, limitSeconds);
        variantLimitPoints.push(variantPoint);
        console.log(
          `limit ${variantManifest?.precision ?? 'variant'} (${variantSession.executionProvider}, ${variantPoint.layout}) batch ${batch}: ${variantPoint.imagesPerSecond.toFixed(2)} img/s, ${variantPoint.msPerRun.toFixed(1)} ms/run`,
        );
      }
    }
  }
  const variantBest = variantLimitPoints.length
    ? variantLimitPoints.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a))
    : null;
  for (const session of variantSessions) await session.release();
  const best = () => limitPoints.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
  const bestSession = () => limitSessions.find((session) => session.layout === best().layout)!;
  const limitImagesPerSecond = () => best().imagesPerSecond;
  // Other sessions on a shared machine slow whichever phase they overlap. Before each load phase the
  // bare model runs again for a short while in its best layout (the service idles meanwhile, so they
  // never compete), and the ratio is also given against that adjacent figure; the targets use the
  // run's best limit.
  const adjacentLimit = async () => (await bestSession().measure(best().batch, Math.max(1, limitSeconds / 2))).imagesPerSecond;

  // (2) The service, and (3) the naive baseline: the same service with batching off.
  console.log(
    `service (MAX_BATCH_SIZE=${config.MAX_BATCH_SIZE}, MAX_BATCH_WAIT_MS=${config.MAX_BATCH_WAIT_MS}, ${workers} sessions × ${servedLayout.intraOpThreads} threads):`,
  );
  const service = await measureService('service', serviceEnv({}), body, cropsPerRequest, limitImagesPerSecond, adjacentLimit);
  if (variantLayout) {
    console.log(
      `${variantName} service: ${variantLayout.served.workers} sessions × ${variantLayout.served.intraOpThreads} threads`,
    );
  }
  const variantService = variantManifest
    ? await measureService(
        variantName,
        serviceEnv({ MODELS: variantName }),
        body,
        cropsPerRequest,
        limitImagesPerSecond,
        adjacentLimit,
        variantConcurrencies,
      )
    : null;
  if (runNaive) console.log('naive baseline (MAX_BATCH_SIZE=1):');
  const naive = runNaive
    ? await measureService(
        'naive',
        serviceEnv({ MAX_BATCH_SIZE: '1' }),
        body,
        cropsPerRequest,
        limitImagesPerSecond,
        adjacentLimit,
      )
    : { points: [], lifetimeMaxRssBytes: 0, executionProvider: 'not run', precision: 'fp32' };

  // The limit again after the load; the best figure of the run is kept, so the ratio is never flattered.
  const recheck = await bestSession().measure(best().batch, limitSeconds);
  for (const session of limitSessions) await session.release();
  console.log(`limit recheck ${recheck.layout} batch ${recheck.batch}: ${recheck.imagesPerSecond.toFixed(2)} img/s`);
  const allPoints = [...service.points, ...naive.points, ...(variantService?.points ?? [])];
  const adjacentBest = Math.max(...allPoints.map((point) => point.adjacentLimitImagesPerSecond));
  const limit = Math.max(best().imagesPerSecond, recheck.imagesPerSecond, adjacentBest);
  for (const point of allPoints) point.ratioToLimit = point.cropsPerSecond / limit;
  const variantAtC8 = variantService?.points.find((point) => point.concurrency === 8) ?? variantService?.points.at(-1);

  const atC8 = service.points.find((point) => point.concurrency === 8) ?? service.points.at(-1)!;
  const single = service.points.find((point) => point.concurrency === 1) ?? service.points[0]!;
  // One request's crops in one batch on the one-session layout; without that batch size in
  // BENCH_BATCHES the single-request target is left out.
  const batch2 = limitPoints.find((point) => point.batch === cropsPerRequest && point.layout === limitSession.layout);
  const singleBudgetMs = batch2 ? targets.singleLatencyFactor * (batch2.msPerRun + decode.totalMs) : NaN;
  const peakRss = Math.max(...service.points.map((point) => point.peakRssBytes), service.lifetimeMaxRssBytes);
  const checks = [
    {
      target: `service ÷ limit at c=${atC8.concurrency} ≥ ${targets.ratioAtC8}`,
      value: atC8.ratioToLimit,
      met: atC8.ratioToLimit >= targets.ratioAtC8,
      by: atC8.ratioToLimit - targets.ratioAtC8,
    },
    {
      target: `event-loop delay p99 at c=${atC8.concurrency} ≤ ${targets.loopDelayP99Ms} ms`,
      value: atC8.loopDelayP99Ms,
      met: atC8.loopDelayP99Ms <= targets.loopDelayP99Ms,
      by: targets.loopDelayP99Ms - atC8.loopDelayP99Ms,
    },
    {
      target: `/healthz p99 under load at c=${atC8.concurrency} ≤ ${targets.healthP99Ms} ms`,
      value: atC8.healthzP99Ms,
      met: atC8.healthzP99Ms <= targets.healthP99Ms,
      by: targets.healthP99Ms - atC8.healthzP99Ms,
    },
    ...(variantAtC8
      ? [
          {
            target: `${variantName} service crops/s ÷ raw FP32 best images/s at c=${variantAtC8.concurrency} ≥ ${targets.variantRatioAtC8}`,
            value: variantAtC8.ratioToLimit,
            met: variantAtC8.ratioToLimit >= targets.variantRatioAtC8,
            by: variantAtC8.ratioToLimit - targets.variantRatioAtC8,
          },
        ]
      : []),
    { target: 'peak RSS ≤ 1.5 GiB', value: peakRss, met: peakRss <= targets.peakRssBytes, by: targets.peakRssBytes - peakRss },
    ...(batch2
      ? [
          {
            target: `single-request p50 ≤ ${targets.singleLatencyFactor} × (limit batch-2 ${batch2.msPerRun.toFixed(1)} ms + decode ${decode.totalMs.toFixed(1)} ms) = ${singleBudgetMs.toFixed(1)} ms`,
            value: single.latencyP50Ms,
            met: single.latencyP50Ms <= singleBudgetMs,
            by: singleBudgetMs - single.latencyP50Ms,
          },
        ]
      : []),
  ];
  console.log(
    `summary: raw FP32 best ${limit.toFixed(2)} img/s (${best().layout} sessions × threads, batch ${best().batch})` +
      (variantBest
        ? `, raw ${variantName} best ${variantBest.imagesPerSecond.toFixed(2)} img/s (×${(variantBest.imagesPerSecond / limit).toFixed(2)})`
        : '') +
      `, FP32 service c=${atC8.concurrency} ${atC8.cropsPerSecond.toFixed(2)} crops/s (÷ raw FP32 ${atC8.ratioToLimit.toFixed(3)})` +
      (variantAtC8
        ? `, ${variantName} service ${variantAtC8.cropsPerSecond.toFixed(2)} crops/s (÷ raw FP32 ${variantAtC8.ratioToLimit.toFixed(3)})`
        : '') +
      `, /healthz p99 ${atC8.healthzP99Ms.toFixed(1)} ms, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  console.log('targets:');
  for (const check of checks)
    console.log(
      `  ${check.met ? 'MET   ' : 'MISSED'} ${check.target}: ${Number(check.value.toFixed(3))} (margin ${Number(check.by.toFixed(3))})`,
    );

  const results = {
    date: new Date().toISOString(),
    description,
    machine,
    executionProvider: {
      limit: limitSession.executionProvider,
      service: service.executionProvider,
      naive: naive.executionProvider,
    },
    config: {
      EXECUTION_PROVIDERS: config.EXECUTION_PROVIDERS,
      WORKERS_PER_MODEL: config.WORKERS_PER_MODEL,
      workers,
      intraOpThreads: servedLayout.intraOpThreads,
      variantLayout: variantLayout ? `${variantLayout.served.workers}×${variantLayout.served.intraOpThreads}` : null,
      limitLayouts: layouts.map((layout) => `${layout.sessions}×${layout.threads}`),
      INTER_OP_THREADS: config.INTER_OP_THREADS,
      GRAPH_OPTIMIZATION: config.GRAPH_OPTIMIZATION,
      MAX_BATCH_SIZE: config.MAX_BATCH_SIZE,
      MAX_BATCH_WAIT_MS: config.MAX_BATCH_WAIT_MS,
      durationSeconds,
      warmupSeconds,
      limitSeconds,
    },
    workload: {
      image: '1280×720 synthetic photo JPEG (bench/synthetic-photo.ts)',
      jpegBytes: jpeg.length,
      box: face,
      tta,
      cropsPerRequest,
      model: DEFAULT_MODEL_NAME,
    },
    decode,
    limit: { points: limitPoints, best: best(), recheck, imagesPerSecond: limit },
    service: service.points,
    serviceLifetimeMaxRssBytes: service.lifetimeMaxRssBytes,
    naive: naive.points,
    naiveLifetimeMaxRssBytes: naive.lifetimeMaxRssBytes,
    variant: variantManifest
      ? {
          name: variantName,
          precision: variantManifest.precision,
          deviation: variantManifest.deviation,
          limit: {
            points: variantLimitPoints,
            best: variantBest,
            ratioToFp32Limit: variantBest ? variantBest.imagesPerSecond / limit : null,
          },
          service: variantService?.points ?? [],
          serviceExecutionProvider: variantService?.executionProvider,
          servicePrecision: variantService?.precision,
          serviceLifetimeMaxRssBytes: variantService?.lifetimeMaxRssBytes,
        }
      : null,
    targets: checks,
    elapsedSeconds: (performance.now() - started) / 1000,
  };
  const directory = path.join(root, 'bench', 'results');
  await mkdir(directory, { recursive: true });
  const file = path.join(directory, `${results.date.slice(0, 10)}-${description}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(root, file)} in ${results.elapsedSeconds.toFixed(0)} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
