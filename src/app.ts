import { AjvCompiler, type BuildCompilerFromPool } from '@fastify/ajv-compiler';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import fp from 'fastify-plugin';
import { executionProviders, sessionLayout, fusionThreads, type Config } from './config.js';
import { EvidencePool } from './evidence/evidence-pool.js';
import { withBearerAuth } from './auth.js';
import { cudaUnavailableReason } from './inference/cuda-availability.js';
import type { ExecutionProviderName } from './inference/worker-protocol.js';
import { problemErrorHandler, problemUri } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { ModelRegistry } from './models/model-registry.js';
import { fuseRoutes } from './routes/fuse.js';
import { healthRoutes } from './routes/health.js';
import { kserveModelRoutes, kserveServerRoutes } from './routes/kserve-v2.js';
import { modelRoutes } from './routes/models.js';
import { pageRoutes } from './routes/page.js';
import { predictMultiviewRoutes } from './routes/predict-multiview.js';
import { MULTIPART_FIELD_BYTES, predictRoutes } from './routes/predict.js';
import { renderRoutes } from './routes/render.js';
import { smoothRoutes } from './routes/smooth.js';
import { triangulateRoutes } from './routes/triangulate.js';
import { ModelInfo } from './schemas/models.js';
import { Box, Ellipse, Keypoint, ViewPrediction } from './schemas/predict.js';
import { Problem, problemResponses } from './schemas/problem.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRegistry;
    metrics: Metrics;
  }
}

/** The little of the generated OpenAPI document that transformObject edits. */
interface OpenApiDocument {
  paths?: Record<
    string,
    | {
        post?: {
          requestBody?: {
            content?: Record<string, { schema?: { properties?: Record<string, Record<string, unknown>> }; encoding?: unknown }>;
          };
        };
      }
    | undefined
  >;
}

export interface AppOptions {
  config: Config;
}

/** The asked-for providers this machine can run; CUDA is checked before ONNX Runtime is asked for it. */
function usableProviders(requested: readonly ExecutionProviderName[]) {
  const cudaProblem = requested.includes('cuda') ? cudaUnavailableReason() : null;
  // Asked for CUDA alone, nothing is left: the models fail with the reason rather than run elsewhere.
  const usable = requested.filter((provider) => provider !== 'cuda' || cudaProblem === null);
  const unavailable = cudaProblem === null ? [] : [{ provider: 'cuda' as const, reason: cudaProblem }];
  return { usable, unavailable };
}

/** /metrics on its own listener, so it need not be reachable where the API is. */
export function metricsRoute(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        description: 'Served on METRICS_PORT instead when that is set.',
        tags: ['operations'],
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4.',
            content: {
              'text/plain': {
                schema: {
                  type: 'string',
                  examples: [
                    '# HELP huber_inference_batch_size Crops per session.run call.\n# TYPE huber_inference_batch_size histogram\nhuber_inference_batch_size_bucket{le="1",model="resnet101-huber-wflw"} 0\n',
                  ],
                },
              },
            },
          },
          ...problemResponses({ 500: 'Internal error' }),
        },
      },
    },
    async (_request, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}

/** The whole HTTP application as a plugin: tests register it on a bare instance and use `inject`. */
export const huberKeypointsPlugin = fp<AppOptions>(
  async (fastify, { config }) => {
    const metrics = createMetrics();
    const providers = usableProviders(executionProviders(config));
    for (const { provider, reason } of providers.unavailable) {
      fastify.log.info(
        { provider, reason },
        `not using ${provider}: ${reason}; models run on ${providers.usable.join(', ') || 'nothing'}`,
      );
    }
    const registry = new ModelRegistry(
      config.MODEL_REPOSITORY,
      {
        executionProviders: providers.usable,
        unavailableProviders: providers.unavailable,
        sessionLayout: (modelProviders, modelBytes) => sessionLayout(config, modelProviders, modelBytes),
        interOpThreads: config.INTER_OP_THREADS,
        graphOptimization: config.GRAPH_OPTIMIZATION,
        inferenceNice: config.INFERENCE_NICE,
        maxBatchSize: config.MAX_BATCH_SIZE,
        maxBatchWaitMs: config.MAX_BATCH_WAIT_MS,
        warmup: config.WARMUP,
        inferenceTimeoutMs: config.INFERENCE_TIMEOUT_MS,
      },
      metrics,
      fastify.log,
    );
    fastify.decorate('models', registry);
    fastify.decorate('metrics', metrics);
    // Not ready from the moment shutdown starts, so load balancers stop sending before the socket closes.
    fastify.addHook('preClose', async () => {
      registry.closing = true;
    });
    fastify.addHook('onClose', async () => registry.close());
    const evidence = new EvidencePool({
      size: fusionThreads(config),
      nice: config.INFERENCE_NICE,
      onReplace: (reason, detail) => {
        metrics.evidenceThreadReplacements.inc({ reason });
        fastify.log.warn({ reason, detail }, `a fusion thread was replaced: ${detail}`);
      },
    });
    metrics.evidenceRunsSource.read = () => evidence.pending;
    fastify.addHook('onClose', async () => evidence.close());

    await fastify.register(fastifyHelmet, { global: true });
    const corsOrigins = config.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean);
    if (corsOrigins.length > 0) await fastify.register(fastifyCors, { origin: corsOrigins });
    for (const schema of [Problem, Box, Ellipse, Keypoint, ViewPrediction, ModelInfo]) fastify.addSchema(schema);

    await fastify.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'huber-keypoints',
          version: '1.0.0',
          description:
            "Probabilistic keypoints: each landmark's mean and full covariance from L2 multivariate Huber regressors, with uncertainty ellipses in image coordinates.",
        },
        tags: [
          { name: 'predict', description: 'Keypoint prediction' },
          { name: 'models', description: 'The model repository' },
          { name: 'fusion', description: 'Independent evidence: fusion and triangulation' },
          { name: 'operations', description: 'Health, readiness and metrics' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'Required only when the server sets AUTH_TOKEN.' },
          },
        },
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`),
      },
      transformObject: (documentObject) => {
        // The document is plain JSON; only the few members below are edited.
        const { openapiObject } = documentObject as unknown as { openapiObject: OpenApiDocument };
        // Multipart parts travel as bytes and JSON text; OpenAPI says so with `type: string` and an encoding.
        for (const route of ['predict', 'render']) {
          const operation = openapiObject.paths?.[`/v1/models/{model}/${route}`]?.post;
          const form = operation?.requestBody?.content?.['multipart/form-data'];
          if (form?.schema?.properties?.image) {
            form.schema.properties.image.type = 'string';
            form.schema.properties.image.format = 'binary';
            form.encoding = { image: { contentType: 'image/*' }, boxes: { contentType: 'application/json' } };
          }
        }
        return 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      },
    });
    await fastify.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
    await fastify.register(fastifyMultipart, {
      limits: { fileSize: config.BODY_LIMIT_BYTES, files: 2, fields: 16, parts: 18, fieldSize: MULTIPART_FIELD_BYTES },
    });

    // Only JSON and multipart bodies are part of the API; anything else is answered 415.
    fastify.removeContentTypeParser('text/plain');

    fastify.setErrorHandler(problemErrorHandler());
    fastify.setNotFoundHandler((request, reply) => {
      void reply
        .status(404)
        .type('application/problem+json')
        .send({
          type: problemUri('no-route'),
          title: 'Not Found',
          status: 404,
          detail: `no route ${request.method} ${request.url.split('?')[0]}`,
          instance: request.url,
        });
    });

    fastify.addHook('onResponse', async (request, reply) => {
      const labels = { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, reply.elapsedTime / 1000);
    });

    await fastify.register(healthRoutes, { registry });
    await fastify.register(pageRoutes);
    await fastify.register(kserveServerRoutes, { registry });
    const limits = {
      maxPixels: config.MAX_IMAGE_PIXELS,
      maxBoxes: config.MAX_BOXES,
      maxQueueCrops: config.MAX_QUEUE_CROPS,
      maxDeadlineMs: config.MAX_DEADLINE_MS,
      maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS,
    };
    const evidenceLimits = {
      maxPoints: config.MAX_FUSION_POINTS,
      maxCameras: config.MAX_CAMERAS,
      maxObservationsPerPoint: config.MAX_OBSERVATIONS_PER_POINT,
    };
    // The API proper (/v1, /v2/models) needs the bearer token when AUTH_TOKEN is set; health, metrics,
    // the page and the documents stay public. This is the one place that says so.
    await withBearerAuth(fastify, config.AUTH_TOKEN, async (api) => {
      await api.register(modelRoutes, { registry });
      await api.register(predictRoutes, { registry, metrics, limits });
      await api.register(renderRoutes, { registry, metrics, limits });
      await api.register(kserveModelRoutes, { registry, metrics, limits });
      await api.register(fuseRoutes, { metrics, limits: evidenceLimits, evidence });
      await api.register(triangulateRoutes, { metrics, limits: evidenceLimits, evidence });
      await api.register(predictMultiviewRoutes, { registry, metrics, limits, evidenceLimits, evidence });
      await api.register(smoothRoutes, { metrics, evidence });
    });
    if (config.METRICS_PORT === 0) metricsRoute(fastify, metrics);
    fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());
  },
  { name: 'huber-keypoints', fastify: '5.x' },
);

const ajvOptions = { removeAdditional: false, useDefaults: true, allErrors: false } as const;

/**
 * Headers, path parameters and query strings are text by nature, so they are coerced to their
 * schema's types; JSON bodies are checked as sent: `{"x": null}` or `"width": true` is a 400 naming
 * the field, never a silent 0 or 1. Multipart forms are parsed field by field before they meet the
 * body schema (see routes/predict.ts).
 */
function strictBodyValidator(): BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas) => {
    const coercing = pool(externalSchemas, { customOptions: { ...ajvOptions, coerceTypes: 'array' } });
    const strict = pool(externalSchemas, { customOptions: { ...ajvOptions, coerceTypes: false } });
    // At run time Fastify hands the compiler the route definition with the part it validates; the
    // package's published type names only the schema, hence the two conversions.
    const byPart = (route: FastifyRouteSchemaDef<unknown>) => (route.httpPart === 'body' ? strict : coercing)(route);
    return byPart as unknown as ReturnType<BuildCompilerFromPool>;
  };
}

/** Fastify's own options, derived from the configuration. */
export function serverOptions(config: Config): FastifyServerOptions {
  return {
    logger: { level: config.LOG_LEVEL },
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    schemaController: { compilersFactory: { buildValidator: strictBodyValidator() } },
  };
}

/** The separate listener for METRICS_PORT: /metrics and nothing else. */
export function buildMetricsApp(metrics: Metrics, config: Config): FastifyInstance {
  const fastify = Fastify({ logger: false, requestTimeout: config.REQUEST_TIMEOUT_MS });
  fastify.addSchema(Problem);
  metricsRoute(fastify, metrics);
  return fastify;
}

/** A ready-to-listen instance: the plugin on a fresh Fastify, models not yet loaded. */
export async function buildApp(config: Config, overrides: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const fastify = Fastify({ ...serverOptions(config), ...overrides });
  await fastify.register(huberKeypointsPlugin, { config });
  return fastify;
}
