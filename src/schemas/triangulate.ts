import Type, { type Static } from 'typebox';
import { evidenceOptions, Matrix2, Matrix3, Region, Sensitivities, solverFields, Vector2, Vector3 } from './fusion.js';

const CameraName = Type.String({ minLength: 1, maxLength: 256, description: 'The name observations refer to the camera by.' });

export const ProjectionCamera = Type.Object(
  {
    name: CameraName,
    projection: Type.Array(Type.Array(Type.Number(), { minItems: 4, maxItems: 4 }), {
      minItems: 3,
      maxItems: 3,
      description: '3×4 projection matrix P: pixel ∝ P·[X, 1].',
    }),
  },
  { additionalProperties: false },
);

export const IntrinsicsCamera = Type.Object(
  {
    name: CameraName,
    matrix: { ...Matrix3, description: 'Intrinsic matrix K.' },
    rotation: Type.Union([Vector3, Matrix3], { description: 'World-to-camera rotation: a Rodrigues vector or a 3×3 matrix R.' }),
    translation: { ...Vector3, description: 't in x_c = R·X + t.' },
    distortions: Type.Optional(
      Type.Array(Type.Number(), { minItems: 4, maxItems: 5, description: 'OpenCV [k1, k2, p1, p2] or [k1, k2, p1, p2, k3].' }),
    ),
    size: Type.Optional(Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: 'Image [width, height], pixels.' })),
    fisheye: Type.Optional(Type.Boolean({ description: 'Only `false` is supported.' })),
  },
  { additionalProperties: false },
);

export const CameraSpec = Type.Union([ProjectionCamera, IntrinsicsCamera], {
  description: 'A calibrated camera: a projection matrix, or OpenCV intrinsics, distortion and pose.',
});
export type CameraSpecJson = Static<typeof CameraSpec>;

export const Cameras = Type.Array(CameraSpec, { minItems: 2 });

export const Calibration = Type.String({
  minLength: 1,
  description: 'The text of an anipose / Pose2Sim calibration.toml: one table per camera ([metadata] is skipped).',
});

const TriangulationObservation = Type.Object(
  {
    camera: Type.String({ description: 'The camera’s `name`.' }),
    mean: { ...Vector2, description: 'Keypoint in the raw (distorted) image, pixels.' },
    covariance: { ...Matrix2, description: 'Its covariance Σ, pixels².' },
    alternatives: Type.Optional(
      Type.Array(
        Type.Object(
          {
            mean: Vector2,
            covariance: Matrix2,
            prior: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
          },
          { additionalProperties: false },
        ),
        {
          description:
            'Other places the camera may have seen the point (for example the flip partner’s distribution); the observation’s own prior is 1 − Σ priors.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const TriangulateBody = Type.Object(
  {
    ...evidenceOptions,
    cameras: Type.Optional(Cameras),
    calibration: Type.Optional(Calibration),
    points: Type.Array(
      Type.Object(
        {
          name: Type.Optional(Type.String({ maxLength: 256 })),
          observations: Type.Array(TriangulationObservation, { description: 'At most one per camera; at least two cameras.' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  {
    additionalProperties: false,
    description: 'Send the cameras either as `cameras` or as `calibration`, not both.',
    examples: [
      {
        level: 0.9,
        cameras: [
          {
            name: 'left',
            matrix: [
              [800, 0, 320],
              [0, 800, 240],
              [0, 0, 1],
            ],
            rotation: [0, 0.2, 0],
            translation: [0, 0, 2],
          },
          {
            name: 'right',
            matrix: [
              [800, 0, 320],
              [0, 800, 240],
              [0, 0, 1],
            ],
            rotation: [0, -0.2, 0],
            translation: [0, 0, 2],
          },
        ],
        points: [
          {
            name: 'wrist',
            observations: [
              {
                camera: 'left',
                mean: [352.1, 251.6],
                covariance: [
                  [4, 0.5],
                  [0.5, 3],
                ],
              },
              {
                camera: 'right',
                mean: [301.5, 250.9],
                covariance: [
                  [5, -0.4],
                  [-0.4, 3.5],
                ],
              },
            ],
          },
        ],
      },
    ],
  },
);

export type TriangulateRequest = Static<typeof TriangulateBody>;

export const CameraDiagnostics = Type.Object({
  camera: Type.String(),
  weight: Type.Number({ description: 'min(1, δ/mahalanobis) of the component taken.' }),
  mahalanobis: Type.Number({ description: '‖A(π(position) − μ)‖ of the component taken.' }),
  outlier: Type.Boolean({ description: 'π(position) lies outside that component’s own 99 % region.' }),
  component: Type.Integer({ description: '0: the observation itself; k: alternatives[k − 1] (largest responsibility).' }),
  reprojection: Type.Array(Type.Number(), { description: 'π(position), pixels.' }),
  reprojectionError: Type.Number({ description: '‖π(position) − μ‖ for the observation’s own mean, pixels.' }),
});

export const TriangulatedPointOut = Type.Object({
  name: Type.Optional(Type.String()),
  position: Type.Array(Type.Number(), { description: 'Posterior mean with each projection linearized at it (a fixed point).' }),
  mode: Type.Union([Type.Array(Type.Number()), Type.Null()], {
    description: 'Global maximum-likelihood point where unique, else null.',
  }),
  covariance: Type.Array(Type.Array(Type.Number()), { description: 'Posterior covariance about `position`, world units².' }),
  region: Region,
  rmse: Type.Number({ description: '√(trace covariance), world units.' }),
  ...solverFields,
  cameras: Type.Array(CameraDiagnostics),
  sensitivities: Type.Optional(Sensitivities),
});

export const TriangulateResponse = Type.Object(
  { points: Type.Array(TriangulatedPointOut) },
  {
    examples: [
      {
        points: [
          {
            name: 'wrist',
            position: [0.02028, 0.03337, 0.37691],
            mode: [0.02029, 0.0334, 0.37692],
            covariance: [
              [1.702e-5, 2.36e-7, -6.13e-6],
              [2.36e-7, 1.002e-5, 1.646e-5],
              [-6.13e-6, 1.646e-5, 6.02e-4],
            ],
            region: { level: 0.9, radius: 2.633 },
            rmse: 0.02508,
            iterations: 3,
            converged: true,
            cameras: [
              {
                camera: 'left',
                weight: 1,
                mahalanobis: 0.317,
                outlier: false,
                component: 0,
                reprojection: [352.049, 251.287],
                reprojectionError: 0.317,
              },
              {
                camera: 'right',
                weight: 1,
                mahalanobis: 0.327,
                outlier: false,
                component: 0,
                reprojection: [301.461, 251.249],
                reprojectionError: 0.351,
              },
            ],
          },
        ],
      },
    ],
  },
);
