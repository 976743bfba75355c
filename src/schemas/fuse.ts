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
            mean: [413.2, 287.6],
            mode: [413.1, 287.7],
            covariance: [
              [4.9, 0.1],
              [0.1, 3.3],
            ],
            region: { level: 0.9, radius: 2.13 },
            ellipse: { level: 0.9, semiMajor: 4.72, semiMinor: 3.86, angle: 3.4 },
            rmse: 2.86,
            iterations: 6,
            converged: true,
            observations: [
              { weight: 1, mahalanobis: 0.46, outlier: false },
              { weight: 1, mahalanobis: 0.41, outlier: false },
            ],
          },
        ],
      },
    ],
  },
);
