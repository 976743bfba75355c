import { CalibrationError } from '../calibration/camera-spec.js';
import { RefusedItemError } from '../evidence/evidence-pool.js';
import { badRequest, unprocessable } from '../errors.js';
import { EvidenceError } from '../huber/fusion-errors.js';
import type { Metrics } from '../metrics.js';

const joinPath = (prefix: string, rest: string) => (prefix === '' ? rest : rest === '' ? prefix : `${prefix}.${rest}`);

/**
 * The HTTP meaning of the evidence domain's refusals (docs/spec.md §9): evidence that is well-formed
 * JSON but not a usable distribution or rig is 422 and names the value by its path in the request;
 * a calibration that is not TOML at all is 400 with its line and key.
 */
export function evidenceProblem(error: unknown, prefix: string): unknown {
  if (error instanceof EvidenceError) {
    const path = joinPath(prefix, error.path);
    // The domain's messages usually open with the value's own path; extend it rather than repeat it.
    const detail =
      error.path !== '' && error.message.startsWith(error.path) ? joinPath(prefix, error.message) : `${path}: ${error.message}`;
    return unprocessable(detail, 'invalid-evidence', { path });
  }
  if (error instanceof CalibrationError) {
    const extensions = { path: error.path, ...(error.line === null ? {} : { line: error.line }) };
    if (error.kind === 'syntax') return badRequest(error.message, 'invalid-calibration', extensions);
    return unprocessable(error.message, error.kind === 'limit' ? 'too-many-cameras' : 'invalid-calibration', extensions);
  }
  return error;
}

/** Runs `work`, turning the evidence domain's errors into problems that name `prefix`'s value. */
export function withEvidenceProblems<T>(prefix: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw evidenceProblem(error, prefix);
  }
}

/**
 * Awaits `work` on the evidence threads, timing it in huber_evidence_duration_seconds under `labels`; an item
 * the domain refused becomes the problem `problemOf` makes of it (which names the item in the request).
 */
export async function onEvidenceThreads<T>(
  metrics: Metrics,
  labels: { endpoint: string; model: string },
  work: () => Promise<T>,
  problemOf: (refused: RefusedItemError) => unknown,
): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } catch (error) {
    throw error instanceof RefusedItemError ? problemOf(error) : error;
  } finally {
    metrics.evidenceDuration.observe(labels, (performance.now() - started) / 1000);
  }
}
