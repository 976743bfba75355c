/**
 * What the domain (decoding, crops, models, inference) refuses, in its own words. Nothing here knows
 * about HTTP: src/errors.ts maps each kind to a status and a problem+json body.
 */
export type DomainErrorKind =
  | 'invalid-image' // bytes that do not decode
  | 'unsupported-image' // a format the decoder does not take
  | 'image-too-large' // over the pixel limit
  | 'invalid-box' // empty, non-finite or huge
  | 'box-outside-image'
  | 'too-many-boxes'
  | 'unknown-model'
  | 'model-not-ready'
  | 'queue-full'
  | 'deadline-exceeded'
  | 'inference-failed';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** Seconds after which retrying makes sense (overload), if any. */
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DomainError';
  }
}
