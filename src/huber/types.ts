/** Which quantity the first d network outputs of a keypoint encode (docs/spec.md §2 step 4). */
export type Parameterization = 'nu' | 'mu';

/** The distribution settings a model manifest carries (docs/spec.md §6 `distribution`). */
export interface DistributionParams {
  delta: number;
  theta: number;
  eigenvalueOffset: number;
  parameterization: Parameterization;
}

/**
 * An L2 multivariate Huber distribution in d ≤ 4 dimensions. Matrices are row-major d×d.
 * Both Λ and Σ = κ_d(δ)·Λ⁻¹ are carried so that affine moves never have to invert one into the other.
 */
export interface HuberDistribution {
  readonly dimension: number;
  readonly delta: number;
  readonly mean: Float64Array;
  readonly precision: Float64Array;
  readonly covariance: Float64Array;
}

/** A decoded network output: the distribution plus A = Λ^½ and the remapped eigenvalues g(u). */
export interface DecodedDistribution extends HuberDistribution {
  readonly sqrtPrecision: Float64Array;
  readonly remappedEigenvalues: Float64Array;
}

/** Per-keypoint landmark normalization (docs/spec.md §3): y_n = H (q − m). Row-major 2×2 H. */
export interface KeypointNormalization {
  mean: readonly [number, number];
  whitening: readonly [readonly [number, number], readonly [number, number]];
}

/** An affine map p = M q + t; m is row-major [m11, m12, m21, m22]. */
export interface PlanarAffine {
  m: readonly [number, number, number, number];
  t: readonly [number, number];
}

export interface PlanarView {
  /** Network output row; this view's 5K values start at `offset`, keypoint-major [ν_x, ν_y, b11, b12, b22]. */
  raw: ArrayLike<number>;
  offset: number;
  /** Network-input coordinates of this view → image coordinates (already including any mirror). */
  inputToImage: PlanarAffine;
  /** Output slot k of this view is keypoint slotToKeypoint[k] of the original; null means identity. */
  slotToKeypoint: ArrayLike<number> | null;
}

/** Ellipse ‖A(y − μ)‖ ≤ r_level; angle of the major axis in degrees from +x toward +y (docs/spec.md §5). */
export interface Ellipse {
  level: number;
  semiMajor: number;
  semiMinor: number;
  angle: number;
}

export interface FusedKeypoint {
  x: number;
  y: number;
  covariance: [[number, number], [number, number]];
  ellipse: Ellipse;
  rmse: number;
  iterations: number;
  converged: boolean;
}

export interface PlanarViewKeypoint {
  x: number;
  y: number;
  covariance: [[number, number], [number, number]];
  ellipse: Ellipse;
  rmse: number;
}

export interface ViewFusionOptions {
  fusion: 'ml' | 'mean';
  level: number;
  includeViews: boolean;
  tolerance?: number;
  maxIterations?: number;
}

export interface ViewFusionResult {
  keypoints: FusedKeypoint[];
  views?: PlanarViewKeypoint[][];
}
