import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ModelRegistry } from '../models/model-registry.js';
import { problemResponses } from '../schemas/problem.js';

const ModelStates = Type.Record(Type.String(), Type.String(), { description: 'State of each model: loading, ready or failed.' });

export const healthRoutes: FastifyPluginAsyncTypebox<{ registry: ModelRegistry }> = async (app, { registry }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'liveness',
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: {
          200: Type.Object({ status: Type.Literal('ok') }, { examples: [{ status: 'ok' }] }),
          ...problemResponses({ 500: 'Internal error' }),
        },
      },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'readiness',
        summary: 'Readiness: models loaded and warmed up',
        description: ' 200 once no model is still loading and at least one is ready; 503 before that. Failed models are listed.',
        tags: ['operations'],
        response: {
          200: Type.Object(
            { status: Type.Literal('ready'), models: ModelStates },
            { examples: [{ status: 'ready', models: { 'resnet101-huber-wflw': 'ready' } }] },
          ),
          503: Type.Object(
            { status: Type.Literal('not-ready'), models: ModelStates },
            {
              description: 'A model is still loading, or none is ready',
              examples: [{ status: 'not-ready', models: { 'resnet101-huber-wflw': 'loading' } }],
            },
          ),
          ...problemResponses({ 500: 'Internal error' }),
        },
      },
    },
    async (_request, reply) => {
      const models = Object.fromEntries([...registry.entries.values()].map((entry) => [entry.folder, entry.state]));
      if (registry.ready) return { status: 'ready' as const, models };
      return reply.code(503).send({ status: 'not-ready' as const, models });
    },
  );
};
