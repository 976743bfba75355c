import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { DomainError } from '../domain-errors.js';
import type { ModelEntry, ModelRegistry, ServedModel } from '../models/model-registry.js';
import { ModelList, ModelParams } from '../schemas/models.js';
import { problemResponses } from '../schemas/problem.js';

export function describeModel(entry: ModelEntry) {
  const served = entry.served;
  return {
    name: entry.folder,
    state: entry.state,
    error: entry.error,
    version: entry.manifest?.version ?? null,
    description: entry.manifest?.description ?? null,
    trained: entry.manifest?.trained ?? null,
    executionProvider: served?.executionProvider ?? null,
    executionProviderFallbacks: served?.fallbacks ?? [],
    precision: entry.manifest ? (entry.manifest.precision ?? 'fp32') : null,
    inputs: served?.inputs ?? [],
    outputs: served?.outputs ?? [],
    kappa: served?.kappa ?? null,
    manifest: entry.manifest,
  };
}

export function findModel(registry: ModelRegistry, name: string): ModelEntry {
  const entry = registry.entries.get(name);
  if (!entry) throw new DomainError('unknown-model', `model ${JSON.stringify(name)} is not in the model repository`);
  return entry;
}

/** The loaded model behind an entry, or 503 saying why there is none yet. */
export function servedModel(entry: ModelEntry): ServedModel {
  if (entry.state === 'ready' && entry.served) return entry.served;
  throw new DomainError(
    'model-not-ready',
    entry.state === 'failed'
      ? `model "${entry.folder}" failed to load: ${entry.error}`
      : `model "${entry.folder}" is still loading`,
  );
}

export const modelRoutes: FastifyPluginAsyncTypebox<{ registry: ModelRegistry }> = async (app, { registry }) => {
  app.get(
    '/v1/models',
    {
      schema: {
        operationId: 'listModels',
        summary: 'List the models in the repository',
        description: 'Every model folder, with its manifest, load state, execution provider, tensor metadata and κ.',
        tags: ['models'],
        response: {
          200: ModelList,
          ...problemResponses({
            500: 'Internal error',
          }),
        },
      },
    },
    async () => ({ models: [...registry.entries.values()].map(describeModel) }),
  );
  app.get(
    '/v1/models/:model',
    {
      schema: {
        operationId: 'getModel',
        summary: 'Describe one model',
        description: 'The manifest plus runtime facts: state, execution provider, input/output metadata, κ.',
        tags: ['models'],
        params: ModelParams,
        response: {
          200: Type.Ref('ModelInfo'),
          ...problemResponses({
            400: 'Malformed model name',
            404: 'No such model',
            500: 'Internal error',
          }),
        },
      },
    },
    async (request) => describeModel(findModel(registry, request.params.model)),
  );
};
