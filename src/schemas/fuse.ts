import Type, { type Static } from 'typebox';
import { evidenceOptions, ObservationDiagnostics, Region, Sensitivities, solverFields } from './fusion.js';

const Point = Type.Array(Type.Number(), { minItems: 2, maxItems: 3, description: 'A location in R² or R³.' });
const Covariance = Type.Array(Type.Array(Type.Number(), { minItems: 2, maxItems: 3 }), {
  minItems: 2,
  maxItems: 3,
  description: 'Covariance Σ (symmetric positive definite, the same dimension as `mean`), units².',
});

export const FuseBody = Type.Object(
  {
    ...evidenceOptions,
    points: Type.Array(
      Type.Object(
        {
          name: Type.Optional(Type.String({ maxLength: 256 })),
          observations: Type.Array(Type.Object({ mean: Point, covariance: Covariance }, { additionalProperties: false }), {
            minItems: 1,
            description: 'Independent observations of one quantity, all 2-D or all 3-D.',
          }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        delta: 1,
        level: 0.9,
        points: [
          {
            name: 'nose_tip',
            observations: [
              {
                mean: [412.3, 288.1],
                covariance: [
                  [9.2, 1.1],
                  [1.1, 6.4],
                ],
              },
              {
                mean: [414.0, 287.2],
                covariance: [
                  [12.5, -2.0],
                  [-2.0, 8.1],
                ],
              },
              {
                mean: [431.0, 280.0],
                covariance: [
                  [8.0, 0.0],
                  [0.0, 8.0],
                ],
              },
            ],
          },
        ],
      },
    ],
  },
);

export type FuseRequest = Static<typeof FuseBody>;

export const FusedPointOut = Type.Object({
  name: Type.Optional(Type.String()),
  mean: Type.Array(Type.Number(), { description: 'Posterior mean E[y] (flat prior).' }),
  mode: Type.Union([Type.Array(Type.Number()), Type.Null()], {
    description: 'Maximum-likelihood point where it is unique, else null.',
  }),
  covariance: Type.Array(Type.Array(Type.Number()), { description: 'Posterior covariance about `mean`.' }),
  region: Region,
  ellipse: Type.Optional(Type.Ref('Ellipse')),
  rmse: Type.Number({ description: '√(trace covariance): expected distance error.' }),
  ...solverFields,
  observations: Type.Array(ObservationDiagnostics),
  sensitivities: Type.Optional(Sensitivities),
});

export const FuseResponse = Type.Object(
  { points: Type.Array(FusedPointOut) },
  {
    examples: [
      {
        points: [
          {
            name: 'nose_tip',
            mean: [415.363, 286.975],
            mode: [414.04, 287.461],
            covariance: [
              [6.381, -1.209],
              [-1.209, 2.757],
            ],
            region: { level: 0.9, radius: 2.154 },
            ellipse: { level: 0.9, semiMajor: 5.594, semiMinor: 3.33, angle: -16.86 },
            rmse: 3.023,
            iterations: 4,
            converged: true,
            observations: [
              { weight: 0.486, mahalanobis: 2.057, outlier: false },
              { weight: 1, mahalanobis: 0.676, outlier: false },
              { weight: 0.094, mahalanobis: 10.618, outlier: true },
            ],
          },
        ],
      },
    ],
  },
);
