import os from 'node:os';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';

const ProviderList = Type.String({
  pattern: '^(cuda|cpu)(,(cuda|cpu))*$',
  description: 'Execution providers in order of preference; a provider that fails falls through to the next.',
});

/** Every environment variable the service reads; `.env.example` and the README list the same set. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  MODEL_REPOSITORY: Type.String({ minLength: 1, default: 'models' }),
  MODELS: Type.String({ default: '', description: 'Comma-separated model folders to load; empty loads every folder.' }),
  ENSURE_DEFAULT_MODEL: Type.Boolean({ default: true }),
  EXECUTION_PROVIDERS: Type.String({ ...ProviderList, default: 'cuda,cpu' }),
  WORKERS_PER_MODEL: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 64 })], {
    default: 'auto',
    description:
      'Sessions (worker threads) per model. auto: on a CPU, one single-threaded session per core for a model whose copies fit PER_CORE_WEIGHTS_BUDGET_BYTES (an INT8 variant), else one session using every core; one on a GPU. 0 = one single-threaded session per core on a CPU whatever the size (about 1.6 GiB peak RSS for the default FP32 model on 2 cores), one on a GPU.',
  }),
  INTRA_OP_THREADS: Type.Integer({ minimum: 0, maximum: 256, default: 0 }),
  INTER_OP_THREADS: Type.Integer({ minimum: 1, maximum: 256, default: 1 }),
  GRAPH_OPTIMIZATION: Type.Union(
    ['disabled', 'basic', 'extended', 'all'].map((level) => Type.Literal(level)),
    { default: 'all' },
  ),
  INFERENCE_NICE: Type.Integer({
    minimum: 0,
    maximum: 19,
    default: 5,
    description: 'Linux nice value of the inference threads, so the event loop is never queued behind them; 0 disables.',
  }),
  MAX_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
  MAX_BATCH_WAIT_MS: Type.Number({ minimum: 0, maximum: 1000, default: 2 }),
  WARMUP: Type.Boolean({ default: true }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 32 * 1024 * 1024 }),
  MAX_IMAGE_PIXELS: Type.Integer({ minimum: 1, default: 40_000_000 }),
  MAX_BOXES: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 60_000 }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10_000 }),
  MAX_QUEUE_CROPS: Type.Integer({
    minimum: 1,
    default: 64,
    description: 'Crops a model may hold waiting for a batch; past it, 503 at once.',
  }),
  MAX_DEADLINE_MS: Type.Integer({
    minimum: 1,
    default: 30_000,
    description: 'Longest deadline a request may ask for, and the default.',
  }),
  INFERENCE_TIMEOUT_MS: Type.Integer({
    minimum: 1,
    default: 30_000,
    description: 'A batch running longer is abandoned and its worker replaced.',
  }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'Shed predict requests while the event loop lags this much; 0 disables.',
  }),
  AUTH_TOKEN: Type.String({ default: '', description: 'Bearer token required on predict and model routes; empty disables.' }),
  METRICS_PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 0,
    description: 'Serve /metrics on this port instead of PORT; 0 keeps it on PORT.',
  }),
  CORS_ORIGINS: Type.String({ default: '', description: 'Comma-separated allowed origins; empty disables CORS.' }),
  MAX_FUSION_POINTS: Type.Integer({
    minimum: 1,
    default: 256,
    description:
      'Points one fuse or triangulate request may hold; past it, 422. The math runs on FUSION_THREADS, off the event loop.',
  }),
  FUSION_THREADS: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 64 })], {
    default: 'auto',
    description:
      'Worker threads for the fusion, triangulation and smoothing math (fuse, triangulate, predict-multiview, smooth), started by the first such request; auto: one per core. They run at INFERENCE_NICE.',
  }),
  MAX_CAMERAS: Type.Integer({
    minimum: 2,
    default: 64,
    description: 'Cameras one triangulate or predict-multiview request may hold; past it, 422.',
  }),
  MAX_OBSERVATIONS_PER_POINT: Type.Integer({
    minimum: 1,
    default: 64,
    description: 'Observations of one point in a fuse or triangulate request; past it, 422.',
  }),
});

export type Config = Static<typeof ConfigSchema>;

/** FUSION_THREADS as a count: `auto` is one thread per core. */
export function fusionThreads(config: Pick<Config, 'FUSION_THREADS'>): number {
  return config.FUSION_THREADS === 'auto' ? os.availableParallelism() : config.FUSION_THREADS;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the schema's variables from `env`, applies defaults and fails with every offending variable named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const withDefaults = Value.Default(ConfigSchema, picked);
  const converted = Value.Convert(ConfigSchema, withDefaults);
  if (!Value.Check(ConfigSchema, converted)) {
    const problems = Value.Errors(ConfigSchema, converted).map(
      (error) =>
        `${error.instancePath.replace(/^\//, '') || '(root)'}=${JSON.stringify(env[error.instancePath.slice(1)])}: ${error.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return converted;
}

export function executionProviders(config: Config): Array<'cuda' | 'cpu'> {
  return config.EXECUTION_PROVIDERS.split(',') as Array<'cuda' | 'cpu'>;
}

/**
 * Model weights (bytes of ONNX file, summed over one copy per core) up to which `WORKERS_PER_MODEL=auto`
 * gives a CPU model one single-threaded session per core. The default FP32 ResNet101 (174 MB) on 2 cores
 * is over it (per-core sessions peaked at 1.5–1.8 GiB RSS, docs/throughput.md); its INT8 variant (45 MB)
 * is under it on up to 5 cores.
 */
export const PER_CORE_WEIGHTS_BUDGET_BYTES = 256 * 2 ** 20;

export interface SessionLayout {
  workers: number;
  intraOpThreads: number;
}

/**
 * Sessions and threads for one model. One single-threaded session per core is faster on a busy CPU:
 * a session's intra-op threads meet at every operator, so whenever the event loop, an image decode or
 * a neighbour takes a core from one of them the others wait, while separate sessions lose only the
 * time taken. Each session holds its own weights and activations, so `auto` takes it only for models
 * small enough (PER_CORE_WEIGHTS_BUDGET_BYTES). A GPU gets one session, as more would each hold the
 * weights there.
 */
export function sessionLayout(config: Config, usableProviders: readonly ('cuda' | 'cpu')[], modelBytes: number): SessionLayout {
  const cores = os.availableParallelism();
  const onCpu = usableProviders[0] === 'cpu';
  const setting = config.WORKERS_PER_MODEL;
  let workers: number;
  if (setting === 'auto') workers = onCpu && cores * modelBytes <= PER_CORE_WEIGHTS_BUDGET_BYTES ? cores : 1;
  else if (setting > 0) workers = setting;
  else workers = onCpu ? cores : 1;
  return { workers, intraOpThreads: intraOpThreads(config, workers) };
}

/** ONNX Runtime threads per session: when unset, the cores are split evenly among the sessions of one model. */
export function intraOpThreads(config: Config, workers: number): number {
  if (config.INTRA_OP_THREADS > 0) return config.INTRA_OP_THREADS;
  return Math.max(1, Math.floor(os.availableParallelism() / workers));
}
