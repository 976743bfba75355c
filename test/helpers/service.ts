import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { writeFixtureRepository, type BrokenModelKind, type FixtureModelName } from './fixture-models.js';

export interface RunningService {
  app: FastifyInstance;
  url: string;
  repository: string;
  close(): Promise<void>;
}

/** The real app on a real loopback socket over a fresh fixture model repository. */
export async function startService(
  options: {
    models?: readonly FixtureModelName[];
    broken?: readonly BrokenModelKind[];
    env?: Record<string, string>;
    /** Adds more to the repository before the models load. */
    prepare?: (repository: string) => Promise<unknown>;
  } = {},
): Promise<RunningService> {
  const repository = await mkdtemp(path.join(os.tmpdir(), 'huber-models-'));
  await writeFixtureRepository(repository, { models: options.models ?? ['dots', 'dots-nu'], broken: options.broken ?? [] });
  await options.prepare?.(repository);
  const config = loadConfig({
    MODEL_REPOSITORY: repository,
    EXECUTION_PROVIDERS: 'cpu',
    LOG_LEVEL: 'silent',
    ENSURE_DEFAULT_MODEL: 'false',
    INTRA_OP_THREADS: '1',
    ...options.env,
  });
  const app = await buildApp(config);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  await app.models.loadAll();
  return {
    app,
    url: address,
    repository,
    async close() {
      await app.close();
      await rm(repository, { recursive: true, force: true });
    },
  };
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; type: string; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.json() };
}
