/** Face-alignment error measures of the paper's tables (docs/spec.md §10): NME, FR@0.1 and AUC@0.1 per instance. */

/** WFLW's outer eye corners (0-based), the inter-ocular normalizer. */
export const WFLW_INTEROCULAR: readonly [number, number] = [60, 72];
export const FAILURE_THRESHOLD = 0.1;

/** Mean over keypoints of ‖p − g‖, divided by `normalizer`; points interleaved x y. */
export function normalizedMeanError(predicted: ArrayLike<number>, truth: ArrayLike<number>, normalizer: number): number {
  if (predicted.length !== truth.length || truth.length === 0 || truth.length % 2 !== 0) {
    throw new RangeError(
      `predicted and truth must hold the same number of x y pairs, got ${predicted.length} and ${truth.length}`,
    );
  }
  if (!(normalizer > 0) || !Number.isFinite(normalizer))
    throw new RangeError(`normalizer must be positive and finite, got ${normalizer}`);
  let sum = 0;
  for (let i = 0; i < truth.length; i += 2) sum += Math.hypot(predicted[i]! - truth[i]!, predicted[i + 1]! - truth[i + 1]!);
  return sum / (truth.length / 2) / normalizer;
}

/** ‖g_a − g_b‖ for the two landmarks that normalize NME. */
export function interOcularDistance(truth: ArrayLike<number>, [a, b]: readonly [number, number] = WFLW_INTEROCULAR): number {
  return Math.hypot(truth[2 * a]! - truth[2 * b]!, truth[2 * a + 1]! - truth[2 * b + 1]!);
}

function assertErrors(errors: readonly number[]): void {
  if (errors.length === 0) throw new RangeError('no errors to summarize');
}

export function mean(values: readonly number[]): number {
  assertErrors(values);
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Fraction of instances whose NME exceeds the threshold. */
export function failureRate(errors: readonly number[], threshold = FAILURE_THRESHOLD): number {
  assertErrors(errors);
  return errors.filter((error) => error > threshold).length / errors.length;
}

/**
 * Area under the cumulative error distribution on [0, threshold], divided by the threshold. The
 * distribution is a step function, so the area is exact as the mean of max(0, 1 − eᵢ/threshold);
 * published code approximates it by Simpson's rule.
 */
export function areaUnderCurve(errors: readonly number[], threshold = FAILURE_THRESHOLD): number {
  assertErrors(errors);
  let sum = 0;
  for (const error of errors) sum += Math.max(0, 1 - error / threshold);
  return sum / errors.length;
}
