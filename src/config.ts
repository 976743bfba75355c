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
  WORKERS_PER_MODEL: Type.Integer({
    minimum: 0,
    maximum: 64,
    default: 1,
    description:
      'Sessions (worker threads) per model; 0 = one single-threaded session per core when models run on the CPU (faster on a busy CPU, about 1.6 GiB peak RSS for the default model on 2 cores), one on a GPU.',
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
      'Points one fuse or triangulate request may hold; past it, 422. The math runs on the event loop in slices of at most 10 ms.',
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
 * Sessions per model. With 0, a CPU gets one single-threaded session per core: a session's intra-op
 * threads meet at every operator, so whenever the event loop, an image decode or a neighbour takes
 * a core from one of them the others wait, while separate sessions lose only the time taken. Each
 * session holds its own weights and activations, which is why it is not the default
 * (docs/throughput.md). A GPU gets one session, as more would each hold the weights there.
 */
export function workersPerModel(config: Config, usableProviders: readonly ('cuda' | 'cpu')[]): number {
  if (config.WORKERS_PER_MODEL > 0) return config.WORKERS_PER_MODEL;
  return usableProviders[0] === 'cpu' ? os.availableParallelism() : 1;
}

/** ONNX Runtime threads per session: when unset, the cores are split evenly among the sessions of one model. */
export function intraOpThreads(config: Config, workers: number): number {
  if (config.INTRA_OP_THREADS > 0) return config.INTRA_OP_THREADS;
  return Math.max(1, Math.floor(os.availableParallelism() / workers));
}
