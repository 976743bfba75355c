import Type, { type Static } from 'typebox';
import { DEFAULT_LEVEL, DeltaOption, Region } from './fusion.js';

/** docs/spec.md §9, Smoothing: `POST /v1/smooth`. */

export const DEFAULT_SMOOTHING_MODE = 'smoother';
/** At most this many frames over all tracks of one request: smoothing is linear in length (about 2.4 s for 100 000 frames). */
export const MAX_SMOOTHING_FRAMES = 100_000;
export const MAX_SMOOTHING_TRACKS = 1_000;

const Position = Type.Array(Type.Number(), { minItems: 2, maxItems: 3, description: 'The observed position in R² or R³.' });
const Covariance = Type.Array(Type.Array(Type.Number(), { minItems: 2, maxItems: 3 }), {
  minItems: 2,
  maxItems: 3,
  description: 'Covariance Σ_t (symmetric positive definite, the dimension of `mean`), units², as predict returns it.',
});

const Observation = Type.Object(
  {
    t: Type.Number({ description: 'Time in seconds; strictly increasing along the track, steps may be irregular.' }),
    mean: Type.Union([Position, Type.Null()], { description: 'The frame’s observed position, or null for a missed frame.' }),
    covariance: Type.Optional(
      Type.Union([Covariance, Type.Null()], { description: 'Required with a mean; absent or null on a missed frame.' }),
    ),
  },
  { additionalProperties: false },
);

export const SmoothBody = Type.Object(
  {
    delta: DeltaOption,
    level: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        default: DEFAULT_LEVEL,
        description: 'Probability mass inside each frame’s reported region.',
      }),
    ),
    mode: Type.Optional(
      Type.Union([Type.Literal('smoother'), Type.Literal('filter')], {
        default: DEFAULT_SMOOTHING_MODE,
        description:
          '"smoother": each frame is its state in the MAP of the whole track; "filter": causal, each frame uses only itself and earlier frames.',
      }),
    ),
    motion: Type.Object(
      {
        accelerationNoise: Type.Number({
          exclusiveMinimum: 0,
          description:
            'q: the white-noise acceleration’s spectral density is q², in units/s^{3/2} (pixels/s^{3/2} for image points). Larger follows faster motion, smaller smooths more.',
        }),
      },
      { additionalProperties: false, description: 'Constant-velocity motion prior driven by white-noise acceleration.' },
    ),
    tracks: Type.Array(
      Type.Object(
        {
          name: Type.Optional(Type.String({ maxLength: 256 })),
          observations: Type.Array(Observation, {
            minItems: 1,
            description: 'The track’s frames in time order, all 2-D or all 3-D.',
          }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_SMOOTHING_TRACKS, description: 'Independent tracks, each smoothed on its own.' },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        level: 0.9,
        mode: 'smoother',
        motion: { accelerationNoise: 200 },
        tracks: [
          {
            name: 'nose_tip',
            observations: [
              {
                t: 0,
                mean: [412.3, 288.1],
                covariance: [
                  [4.2, 0.6],
                  [0.6, 3.1],
                ],
              },
              {
                t: 0.033,
                mean: [414.0, 287.2],
                covariance: [
                  [4.5, -0.4],
                  [-0.4, 3.3],
                ],
              },
              { t: 0.067, mean: null },
              {
                t: 0.1,
                mean: [431.0, 280.0],
                covariance: [
                  [4.0, 0.0],
                  [0.0, 4.0],
                ],
              },
            ],
          },
        ],
      },
    ],
  },
);

export type SmoothRequest = Static<typeof SmoothBody>;

const Vector = Type.Array(Type.Number());

export const SmoothedFrame = Type.Object({
  t: Type.Number(),
  mean: Type.Union([Vector, Type.Null()], {
    description:
      'The frame’s position; null where the state is not yet determined (before the first observation, or missed before the second).',
  }),
  covariance: Type.Union([Type.Array(Vector), Type.Null()], {
    description:
      'The Gaussian (RTS smoother, or Kalman filter) marginal in which each observed frame’s measurement covariance is Σ_t, or Σ_t/weight on a frame flagged outlier.',
  }),
  region: Type.Union([Region, Type.Null()], {
    description: '(y − mean)ᵀ covariance⁻¹ (y − mean) ≤ radius², radius² the χ²_d quantile of `level`.',
  }),
  velocity: Type.Union([Vector, Type.Null()], {
    description: 'units/s; null until a second frame is observed (always null for a track with one observed frame).',
  }),
  weight: Type.Union([Type.Number(), Type.Null()], {
    description: 'min(1, δ/r_t), r_t = ‖A_t(mean − z_t)‖ with Λ_t = κ_d(δ)Σ_t⁻¹; null on a missed frame.',
  }),
  outlier: Type.Boolean({
    description: 'r_t > r_0.99(d, δ): the answer lies outside the observation’s own 99 % region. False on a missed frame.',
  }),
});

export const SmoothedTrack = Type.Object({
  name: Type.Optional(Type.String()),
  iterations: Type.Integer({
    description: 'Newton iterations of the whole-track solve (smoother) or summed over frames (filter).',
  }),
  converged: Type.Boolean({ description: 'Whether every solve met its tolerance.' }),
  outliers: Type.Integer({ description: 'Frames flagged outlier.' }),
  frames: Type.Array(SmoothedFrame),
});

export const SmoothResponse = Type.Object(
  { mode: Type.Union([Type.Literal('smoother'), Type.Literal('filter')]), tracks: Type.Array(SmoothedTrack) },
  {
    examples: [
      {
        mode: 'smoother',
        tracks: [
          {
            name: 'nose_tip',
            iterations: 5,
            converged: true,
            outliers: 1,
            frames: [
              {
                t: 0,
                mean: [412.41, 288.05],
                covariance: [
                  [2.91, 0.1],
                  [0.1, 2.31],
                ],
                region: { level: 0.9, radius: 2.146 },
                velocity: [50.2, -26.1],
                weight: 1,
                outlier: false,
              },
              {
                t: 0.1,
                mean: [417.5, 285.4],
                covariance: [
                  [3.05, 0.02],
                  [0.02, 2.62],
                ],
                region: { level: 0.9, radius: 2.146 },
                velocity: [51.0, -27.0],
                weight: 0.16,
                outlier: true,
              },
            ],
          },
        ],
      },
    ],
  },
);
