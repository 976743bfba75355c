import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from './domain-errors.js';

/**
 * An error that carries its own RFC 9457 problem description; `problemErrorHandler` turns it into
 * an `application/problem+json` response.
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
export const payloadTooLarge = (detail: string) =>
  new ProblemError(413, 'Payload Too Large', detail, problemUri('payload-too-large'));
export const unsupportedMediaType = (detail: string) =>
  new ProblemError(415, 'Unsupported Media Type', detail, problemUri('unsupported-media-type'));
export const unprocessable = (detail: string, slug = 'unprocessable', extensions?: Record<string, unknown>) =>
  new ProblemError(422, 'Unprocessable Content', detail, problemUri(slug), extensions);
export const unauthorized = (detail: string) =>
  new ProblemError(401, 'Unauthorized', detail, problemUri('unauthorized'), {}, { 'www-authenticate': 'Bearer' });

export { problemUri };

const statusTitles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** How each domain refusal reads over HTTP: status and problem type slug. */
const domainProblems: Record<DomainErrorKind, { status: number; slug: string }> = {
  'invalid-image': { status: 400, slug: 'invalid-image' },
  'unsupported-image': { status: 415, slug: 'unsupported-media-type' },
  'image-too-large': { status: 413, slug: 'payload-too-large' },
  'invalid-box': { status: 422, slug: 'invalid-box' },
  'box-outside-image': { status: 422, slug: 'box-outside-image' },
  'too-many-boxes': { status: 422, slug: 'too-many-boxes' },
  'unknown-model': { status: 404, slug: 'unknown-model' },
  'model-not-ready': { status: 503, slug: 'model-not-ready' },
  'queue-full': { status: 503, slug: 'queue-full' },
  'deadline-exceeded': { status: 504, slug: 'deadline-exceeded' },
  'inference-failed': { status: 503, slug: 'inference-failed' },
};

/** The HTTP face of a domain error: one ProblemError, so every route answers it the same way. */
export function problemFromDomain(error: DomainError): ProblemError {
  const { status, slug } = domainProblems[error.kind];
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) };
  const problem = new ProblemError(status, statusTitles[status] ?? 'Error', error.message, problemUri(slug), {}, headers);
  if (error.cause !== undefined) problem.cause = error.cause;
  return problem;
}

/** Maps any error to a problem body; 5xx bodies never carry internals. */
function toProblem(error: FastifyError | ProblemError | Error, instance: string) {
  if (error instanceof ProblemError) {
    return {
      type: error.problemType,
      title: error.title,
      status: error.status,
      detail: error.message,
      instance,
      ...error.extensions,
    };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return {
      type: problemUri('validation'),
      title: 'Bad Request',
      status: 400,
      detail: fastifyError.message,
      instance,
      errors: fastifyError.validation.map((issue) => ({ path: issue.instancePath, message: issue.message })),
    };
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return {
      type: problemUri((fastifyError.code ?? 'client-error').toLowerCase().replace(/_/g, '-')),
      title: statusTitles[status] ?? 'Client Error',
      status,
      detail: fastifyError.message,
      instance,
    };
  }
  return {
    type: problemUri('internal'),
    title: statusTitles[status] ?? 'Internal Server Error',
    status: status >= 500 && status < 600 ? status : 500,
    detail: 'the server could not complete the request; the error has been logged',
    instance,
  };
}

/**
 * The one error handler: every error becomes problem+json. `errorMember` also copies the detail
 * into an `error` member, which is where Open Inference Protocol (KServe v2) clients look.
 */
export function problemErrorHandler(options: { errorMember?: boolean } = {}) {
  return (raised: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const error = raised instanceof DomainError ? problemFromDomain(raised) : raised;
    const problem: Record<string, unknown> & { status: number; detail: string } = toProblem(error, request.url);
    if (options.errorMember) problem.error = problem.detail;
    // Overload and retryable failures are the service working as designed; only the unexpected gets a stack.
    if (problem.status >= 500 && !(error instanceof ProblemError)) request.log.error({ err: error }, 'request failed');
    else if (problem.status >= 500) {
      const cause = error.cause instanceof Error ? `${error.cause.name}: ${error.cause.message}` : undefined;
      request.log.warn({ status: problem.status, detail: problem.detail, cause }, 'request not served');
    } else request.log.info({ status: problem.status, detail: problem.detail }, 'request refused');
    if (error instanceof ProblemError) void reply.headers(error.headers);
    void reply.status(problem.status).type('application/problem+json').send(problem);
  };
}
