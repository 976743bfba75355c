import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { unauthorized } from './errors.js';
import { problemResponses } from './schemas/problem.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in time independent of where the strings differ (both sides hashed to equal length first). */
export function tokenMatches(expected: string, presented: string): boolean {
  return timingSafeEqual(digest(expected), digest(presented));
}

const unauthorizedResponse = problemResponses({ 401: 'Missing or wrong bearer token (only when the server sets AUTH_TOKEN)' });

/**
 * The OpenAPI face of the guard: every route in the scope says it takes the bearer token (optional:
 * only servers that set AUTH_TOKEN ask for it) and may answer 401. Derived here, so no route can
 * be guarded without its document saying so, or the other way round.
 */
function documentBearerSecurity(route: RouteOptions): void {
  if (!route.schema) return;
  route.schema.security = [{}, { bearerAuth: [] }];
  const responses = (route.schema.response ?? {}) as Record<number, unknown>;
  route.schema.response = { ...unauthorizedResponse, ...responses };
}

/**
 * Registers routes behind the bearer token: `register` adds them to an encapsulated scope whose
 * hooks check the Authorization header (when a token is configured) and document the requirement.
 * This is the one place that decides which routes are protected.
 */
export async function withBearerAuth(
  fastify: FastifyInstance,
  token: string,
  register: (scope: FastifyInstance) => Promise<void>,
): Promise<void> {
  await fastify.register(async (scope) => {
    scope.addHook('onRoute', documentBearerSecurity);
    if (token !== '') {
      scope.addHook('onRequest', async (request) => {
        const header = request.headers.authorization ?? '';
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        const presented = /^bearer +(\S+)\s*$/i.exec(header)?.[1] ?? '';
        if (presented === '' || !tokenMatches(token, presented)) {
          throw unauthorized(
            presented === '' ? 'this route needs an Authorization: Bearer token' : 'the bearer token is not valid',
          );
        }
      });
    }
    await register(scope);
  });
}
