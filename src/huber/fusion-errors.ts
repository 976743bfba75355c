/** The one domain error of fusion and triangulation: the evidence as given cannot define a result. */

export class EvidenceError extends Error {
  /** `path` names the offending value in the request's terms, e.g. "observations[2].covariance". */
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'EvidenceError';
  }
}
