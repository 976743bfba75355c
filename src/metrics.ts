import client from 'prom-client';

/**
 * prom-client's default collectors add `nodejs_active_{handles,requests,resources}_total` gauges,
 * and promtool rejects a non-counter with a `_total` suffix; the same facts stay available under
 * the gauges without the suffix.
 */
const gaugesNamedLikeCounters = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  for (const name of gaugesNamedLikeCounters) registry.removeSingleMetric(name);

  const requests = new client.Counter({
    name: 'huber_http_requests_total',
    help: 'HTTP requests answered, by route, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const requestDuration = new client.Histogram({
    name: 'huber_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by route, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const stageDuration = new client.Histogram({
    name: 'huber_stage_duration_seconds',
    help: 'Time per prediction stage: decode (image decode and crop sampling), queue (waiting for a batch), inference (session.run), postprocess (decode, fusion, description).',
    labelNames: ['model', 'stage'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const batchSize = new client.Histogram({
    name: 'huber_inference_batch_size',
    help: 'Crops per session.run call.',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  });
  /** Each loaded model's current queue depth, read when Prometheus scrapes. */
  const queueDepthSources = new Map<string, () => number>();
  const queueDepth = new client.Gauge({
    name: 'huber_queue_depth',
    help: 'Crops waiting for a batch.',
    labelNames: ['model'] as const,
    registers: [registry],
    collect() {
      for (const [model, depth] of queueDepthSources) this.set({ model }, depth());
    },
  });
  const fusionIterations = new client.Histogram({
    name: 'huber_fusion_iterations',
    help: 'Majorize-minimize iterations per fused keypoint.',
    labelNames: ['model'] as const,
    buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 100],
    registers: [registry],
  });
  const relativeRmse = new client.Histogram({
    name: 'huber_predicted_relative_rmse',
    help: 'Predicted expected distance error of each keypoint (sqrt of the covariance trace) divided by its box diagonal; a shift in this distribution means inputs have drifted.',
    labelNames: ['model'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64],
    registers: [registry],
  });
  const predictions = new client.Counter({
    name: 'huber_predicted_instances_total',
    help: 'Boxes predicted, by model.',
    labelNames: ['model'] as const,
    registers: [registry],
  });
  const workerReplacements = new client.Counter({
    name: 'huber_worker_replacements_total',
    help: 'Inference workers replaced, by model and reason (crash: the thread died; timeout: a batch overran INFERENCE_TIMEOUT_MS).',
    labelNames: ['model', 'reason'] as const,
    registers: [registry],
  });
  const modelInfo = new client.Gauge({
    name: 'huber_model_info',
    help: 'Always 1 for each model in the repository, labelled with its version, whether it is trained, its execution provider, its precision (fp32, fp16, int8) and its state.',
    labelNames: ['model', 'version', 'trained', 'execution_provider', 'precision', 'state'] as const,
    registers: [registry],
  });
  const evidencePoints = new client.Counter({
    name: 'huber_evidence_points_total',
    help: 'Points fused or triangulated from independent evidence, by endpoint (fuse, triangulate, predict-multiview) and model (empty outside predict-multiview).',
    labelNames: ['endpoint', 'model'] as const,
    registers: [registry],
  });
  const evidenceIterations = new client.Histogram({
    name: 'huber_evidence_solver_iterations',
    help: 'Iterations of the mode solver per fused or triangulated point, by endpoint and model.',
    labelNames: ['endpoint', 'model'] as const,
    buckets: [1, 2, 3, 5, 8, 13, 21, 34, 55, 100, 200],
    registers: [registry],
  });
  const evidenceOutliers = new client.Counter({
    name: 'huber_evidence_outliers_total',
    help: 'Observations flagged as outliers (the result outside their own 99 % region), by endpoint and model.',
    labelNames: ['endpoint', 'model'] as const,
    registers: [registry],
  });
  const evidenceSwaps = new client.Counter({
    name: 'huber_evidence_swaps_total',
    help: 'Camera observations resolved to an alternative (component > 0, e.g. a left/right swap), by endpoint and model.',
    labelNames: ['endpoint', 'model'] as const,
    registers: [registry],
  });
  const evidenceDuration = new client.Histogram({
    name: 'huber_evidence_duration_seconds',
    help: 'Wall time of the fusion, triangulation or smoothing math of one request on the evidence threads, waiting included, by endpoint (fuse, triangulate, predict-multiview, smooth) and model.',
    labelNames: ['endpoint', 'model'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  /** Runs of points handed to the evidence threads and not yet answered, read when Prometheus scrapes. */
  const evidenceRunsSource: { read: () => number } = { read: () => 0 };
  const evidenceRuns = new client.Gauge({
    name: 'huber_evidence_pending_runs',
    help: 'Runs of points or tracks (fusion, triangulation, smoothing) on or waiting for the evidence threads (FUSION_THREADS).',
    registers: [registry],
    collect() {
      this.set(evidenceRunsSource.read());
    },
  });
  const evidenceThreadReplacements = new client.Counter({
    name: 'huber_evidence_thread_replacements_total',
    help: 'Evidence threads replaced after their thread died (reason crash).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const smoothingTracks = new client.Counter({
    name: 'huber_smoothing_tracks_total',
    help: 'Tracks smoothed or filtered by /v1/smooth, by mode (smoother, filter).',
    labelNames: ['mode'] as const,
    registers: [registry],
  });
  const smoothingFrames = new client.Counter({
    name: 'huber_smoothing_frames_total',
    help: 'Frames (observed and missed) in tracks sent to /v1/smooth, by mode.',
    labelNames: ['mode'] as const,
    registers: [registry],
  });
  const smoothingIterations = new client.Histogram({
    name: 'huber_smoothing_iterations',
    help: 'Newton iterations per track in /v1/smooth (whole-track solve, or summed over frames in filter mode), by mode.',
    labelNames: ['mode'] as const,
    buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 100, 1000, 10000],
    registers: [registry],
  });
  const smoothingOutliers = new client.Counter({
    name: 'huber_smoothing_outliers_total',
    help: 'Frames flagged as outliers (the answer outside the observation’s own 99 % region) by /v1/smooth, by mode.',
    labelNames: ['mode'] as const,
    registers: [registry],
  });
  return {
    registry,
    requests,
    requestDuration,
    stageDuration,
    batchSize,
    queueDepth,
    queueDepthSources,
    fusionIterations,
    relativeRmse,
    predictions,
    workerReplacements,
    modelInfo,
    evidencePoints,
    evidenceIterations,
    evidenceOutliers,
    evidenceSwaps,
    evidenceDuration,
    evidenceRuns,
    evidenceRunsSource,
    evidenceThreadReplacements,
    smoothingTracks,
    smoothingFrames,
    smoothingIterations,
    smoothingOutliers,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
