import Type from 'typebox';

/**
 * Building blocks shared by the independent-evidence routes (docs/spec.md §9): /v1/fuse,
 * /v1/triangulate and /v1/models/{model}/predict-multiview.
 */

export const DEFAULT_DELTA = 1;
export const DEFAULT_LEVEL = 0.95;
export const DEFAULT_SWAP_PRIOR = 0.05;

// Fixed-length arrays rather than Type.Tuple: TypeBox writes tuples as draft-07 `items: [...]`, which is
// not a schema in OpenAPI 3.1's JSON Schema 2020-12.
export const Vector2 = Type.Array(Type.Number(), { minItems: 2, maxItems: 2 });
export const Vector3 = Type.Array(Type.Number(), { minItems: 3, maxItems: 3 });
export const Matrix2 = Type.Array(Vector2, { minItems: 2, maxItems: 2 });
export const Matrix3 = Type.Array(Vector3, { minItems: 3, maxItems: 3 });

/** δ of the evidence, as the fusion and the smoothing routes take it. */
export const DeltaOption = Type.Optional(
  Type.Number({
    minimum: 0.05,
    maximum: 10,
    default: DEFAULT_DELTA,
    description: 'δ of the Huber distributions the covariances describe (the model manifest’s `distribution.delta`).',
  }),
);

export const evidenceOptions = {
  delta: DeltaOption,
  level: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: DEFAULT_LEVEL,
      description: 'Posterior probability mass inside each reported region.',
    }),
  ),
  sensitivities: Type.Optional(
    Type.Boolean({
      default: false,
      description:
        'Also return ∂mode/∂μᵢ for each observation (implicit-function theorem at the mode); null when the mode is not unique.',
    }),
  ),
};

export const Region = Type.Object(
  {
    level: Type.Number({ description: 'Posterior mass inside the region.' }),
    radius: Type.Number({
      description: 'The region is (y − mean)ᵀ Σ⁻¹ (y − mean) ≤ radius², Σ the reported posterior covariance.',
    }),
  },
  { description: 'The level set of the posterior covariance’s Mahalanobis distance that holds `level` of the posterior.' },
);

export const ObservationDiagnostics = Type.Object({
  weight: Type.Number({ description: 'min(1, δ/mahalanobis): the observation’s influence relative to a Gaussian one.' }),
  mahalanobis: Type.Number({ description: '‖Aᵢ(mean − μᵢ)‖ at the reported mean, in the observation’s own A-space.' }),
  outlier: Type.Boolean({ description: 'The result lies outside the observation’s own 99 % region.' }),
});

export const solverFields = {
  iterations: Type.Integer({ description: 'Iterations of the mode’s solver.' }),
  converged: Type.Boolean({ description: 'Whether the mode’s solver met its tolerance.' }),
};

export const Sensitivities = Type.Union([Type.Array(Type.Array(Type.Array(Type.Number()))), Type.Null()], {
  description: '∂mode/∂μᵢ per observation (rows: the result’s coordinates); null when `mode` is null.',
});
