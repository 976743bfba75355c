/**
 * The Huber distribution core (SPEC §1–§5): pure math on numbers and Float64Array, no I/O.
 * See docs/huber-core.md.
 */

export type {
  Affine2,
  DecodedDistribution,
  DistributionParams,
  Ellipse,
  HuberDistribution,
  KeypointNormalization2,
  KeypointResult2,
  Parameterization,
  PredictOptions2,
  PredictResult2,
  ViewInput2,
  ViewKeypoint2,
} from './types.js';
export {
  cachedRadialQuantile,
  huberConstants,
  huberLoss,
  kappa,
  logNormalizer,
  MAX_DIMENSION,
  radialCdf,
  radialQuantile,
  radialSurvival,
} from './radial.js';
export type { HuberConstants } from './radial.js';
export { cholesky, eigen2, invertSpd, symmetricEigen } from './linalg.js';
export type { Eigen2, SymmetricEigen } from './linalg.js';
export {
  decode,
  decode2,
  decode2Into,
  DECODED_STRIDE_2,
  outputsPerKeypoint,
  REMAP_CEILING,
  REMAP_FLOOR,
  remapEigenvalue,
} from './decode.js';
export { createDistribution, mahalanobisRadius, mirror, negativeLogLikelihood, pushForward } from './distribution.js';
export {
  DEFAULT_FUSION_MAX_ITERATIONS,
  DEFAULT_FUSION_TOLERANCE,
  fuseMean,
  fuseMl,
  fusionCost,
  independentPrecision,
  mixtureCovariance,
} from './fusion.js';
export type { FuseMlOptions, FuseMlResult } from './fusion.js';
export { ellipse, ellipseFromCovariance, rmse } from './describe.js';
export { predictKeypoints2 } from './predict.js';
