import { decodePlanar, negativeLogLikelihood, pushForward, rmse, type HuberDistribution } from '../../src/huber/index.js';
import { invertGeneral } from '../../src/huber/linalg.js';
import type { Manifest } from '../../src/models/manifest.js';

/** The numbers of docs/spec.md §12, all in network-input pixels. */
export interface OutputDeviation {
  maxPositionPx: number;
  meanPositionPx: number;
  maxRmseRelative: number;
  meanNllDelta: number;
}

/**
 * One crop's output slot k, decoded by the service's own decode (docs/spec.md §2) and de-normalized
 * with keypoint k's constants into input pixels (§3: q = H⁻¹ yₙ + m), whatever view the crop is.
 */
function inputSpaceDistribution(manifest: Manifest, raw: ArrayLike<number>, offset: number, keypoint: number): HuberDistribution {
  const normalized = decodePlanar(raw, offset, manifest.distribution);
  const spec = manifest.keypoints[keypoint]!;
  const h = spec.whitening ?? [
    [1, 0],
    [0, 1],
  ];
  const inverse = invertGeneral([h[0][0], h[0][1], h[1][0], h[1][1]], 2, `keypoints[${keypoint}].whitening`);
  return pushForward(normalized, inverse, spec.mean ?? [0, 0]);
}

/**
 * How far a variant's outputs are from its parent's on the same crops: per keypoint of every crop,
 * |μ_variant − μ_parent|, |rmse_variant / rmse_parent − 1| and NLL_variant(μ_parent) − NLL_parent(μ_parent).
 * The NLL difference does not depend on the space it is taken in (an affine map adds the same log
 * Jacobian to both), so input pixels serve for it as for the others.
 */
export function outputDeviation(manifest: Manifest, parent: Float32Array, variant: Float32Array, crops: number): OutputDeviation {
  const keypoints = manifest.keypoints.length;
  const width = 5 * keypoints;
  if (parent.length !== crops * width || variant.length !== crops * width) {
    throw new RangeError(`expected ${crops} × ${width} outputs from each model, got ${parent.length} and ${variant.length}`);
  }
  let maxPosition = 0;
  let sumPosition = 0;
  let maxRmse = 0;
  let sumNll = 0;
  for (let crop = 0; crop < crops; crop++) {
    for (let k = 0; k < keypoints; k++) {
      const offset = crop * width + 5 * k;
      const reference = inputSpaceDistribution(manifest, parent, offset, k);
      const candidate = inputSpaceDistribution(manifest, variant, offset, k);
      const position = Math.hypot(candidate.mean[0]! - reference.mean[0]!, candidate.mean[1]! - reference.mean[1]!);
      maxPosition = Math.max(maxPosition, position);
      sumPosition += position;
      maxRmse = Math.max(maxRmse, Math.abs(rmse(candidate.covariance) / rmse(reference.covariance) - 1));
      sumNll += negativeLogLikelihood(candidate, reference.mean) - negativeLogLikelihood(reference, reference.mean);
    }
  }
  const count = crops * keypoints;
  return {
    maxPositionPx: maxPosition,
    meanPositionPx: sumPosition / count,
    maxRmseRelative: maxRmse,
    meanNllDelta: sumNll / count,
  };
}
