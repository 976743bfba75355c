/**
 * An error that carries its own RFC 9457 problem description; the single error handler in
 * `app.ts` turns it into an `application/problem+json` response.
 */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly problemType: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

const problemUri = (slug: string) => `urn:huber-keypoints:problem:${slug}`;

export const badRequest = (detail: string, slug = 'bad-request', extensions?: Record<string, unknown>) =>
  new ProblemError(400, 'Bad Request', detail, problemUri(slug), extensions);
export const notFound = (detail: string, slug = 'not-found') => new ProblemError(404, 'Not Found', detail, problemUri(slug));
export const payloadTooLarge = (detail: string) =>
  new ProblemError(413, 'Payload Too Large', detail, problemUri('payload-too-large'));
export const unsupportedMediaType = (detail: string) =>
  new ProblemError(415, 'Unsupported Media Type', detail, problemUri('unsupported-media-type'));
export const unprocessable = (detail: string, slug = 'unprocessable', extensions?: Record<string, unknown>) =>
  new ProblemError(422, 'Unprocessable Content', detail, problemUri(slug), extensions);
export const unauthorized = (detail: string) =>
  new ProblemError(401, 'Unauthorized', detail, problemUri('unauthorized'), {}, { 'www-authenticate': 'Bearer' });
export const serviceUnavailable = (detail: string, slug = 'unavailable', retryAfterSeconds?: number) =>
  new ProblemError(
    503,
    'Service Unavailable',
    detail,
    problemUri(slug),
    {},
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  );
export const gatewayTimeout = (detail: string) => new ProblemError(504, 'Gateway Timeout', detail, problemUri('deadline-exceeded'));

export { problemUri };
