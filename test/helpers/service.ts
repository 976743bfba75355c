import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
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

/**
 * POSTs a JSON body through supertest and returns status, content type and parsed body. Prefer
 * `request(service.url).post(path).send(body)` in new tests; this stays for callers that hold a full URL.
 */
export async function postJson(url: string, body: unknown): Promise<{ status: number; type: string; body: any }> {
  const { origin, pathname, search } = new URL(url);
  const response = await request(origin)
    .post(`${pathname}${search}`)
    .set('content-type', 'application/json')
    .send(JSON.stringify(body));
  return { status: response.status, type: response.headers['content-type'] ?? '', body: response.body };
}

/**
 * Sends exactly these bytes with exactly these headers. supertest would otherwise serialize a Buffer declared
 * as JSON into `{"type":"Buffer",…}` and label a string without a type as a form.
 */
export function sendRaw(
  url: string,
  method: 'post' | 'put',
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): request.Test {
  return request(url)
    [method](path)
    .set(headers)
    .serialize((data: unknown) => data as string)
    .send(Buffer.from(body));
}
