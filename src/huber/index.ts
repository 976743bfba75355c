/**
 * The Huber distribution core (docs/spec.md §1–§5): pure math on numbers and Float64Array, no I/O.
 * See docs/huber-core.md.
 */

export type {
  PlanarAffine,
  DecodedDistribution,
  DistributionParams,
  Ellipse,
  HuberDistribution,
  KeypointNormalization,
  FusedKeypoint,
  Parameterization,
  ViewFusionOptions,
  ViewFusionResult,
  PlanarView,
  PlanarViewKeypoint,
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
export { cholesky, eigenSymmetric2x2, invertSpd, symmetricEigen } from './linalg.js';
export type { EigenSymmetric2x2, SymmetricEigen } from './linalg.js';
export {
  decode,
  decodePlanar,
  decodePlanarInto,
  PLANAR_DECODED_STRIDE,
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
export { fuseKeypointViews } from './predict.js';
export { EvidenceError } from './fusion-errors.js';
export { fusePoint, OUTLIER_LEVEL, UNIQUENESS_RATIO } from './point-fusion.js';
export type { FusedPoint, FusionOptions, GaussianObservation, ObservationDiagnostics } from './point-fusion.js';
export { cameraFromIntrinsics, cameraFromProjection, rodrigues } from './camera.js';
export type { Camera, CameraIntrinsics } from './camera.js';
export { triangulateDlt, triangulatePoint, TRIANGULATION_QUADRATURE } from './triangulation.js';
export type { CameraDiagnostics, CameraObservation, TriangulatedPoint, TriangulationOptions } from './triangulation.js';
export { integratePosterior } from './posterior-integration.js';
export type {
  FactorComponent,
  PosteriorFactor,
  PosteriorFrame,
  PosteriorSummary,
  QuadratureSettings,
} from './posterior-integration.js';
