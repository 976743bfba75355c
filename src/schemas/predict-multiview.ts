import Type, { type Static } from 'typebox';
import { DEFAULT_SWAP_PRIOR } from './fusion.js';
import { ModelSummary } from './predict.js';
import { Calibration, Cameras, TriangulatedPointOut } from './triangulate.js';

const MultiviewBox = Type.Object(
  {
    x: Type.Number(),
    y: Type.Number(),
    width: Type.Number({ exclusiveMinimum: 0 }),
    height: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false, description: 'The box around the object in that camera’s image (image pixels).' },
);

/**
 * The multipart form. Image parts are named by their camera, so they are the form's additional
 * properties; the route takes them out of the body before validation (they are bytes, not JSON).
 */
export const PredictMultiviewBody = Type.Object(
  {
    calibration: Type.Union([Calibration, Type.Object({ cameras: Cameras }, { additionalProperties: false })], {
      description: 'The rig: calibration.toml text, or JSON `{cameras: [...]}` as /v1/triangulate takes them.',
    }),
    boxes: Type.Optional(
      Type.Record(Type.String(), MultiviewBox, {
        description: 'JSON object: camera name → one box. A camera without a box uses its whole image.',
      }),
    ),
    tta: Type.Optional(
      Type.Boolean({ default: true, description: 'Also run each crop’s mirrored view and fuse the two (as predict).' }),
    ),
    fusion: Type.Optional(
      Type.Union([Type.Literal('ml'), Type.Literal('mean')], {
        default: 'ml',
        description: 'How each camera’s views are fused (as predict).',
      }),
    ),
    level: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        default: 0.95,
        description: 'Probability mass of every 2-D ellipse and 3-D region.',
      }),
    ),
    includeViews: Type.Optional(
      Type.Boolean({ default: false, description: 'Also return each camera’s per-view distributions.' }),
    ),
    swapPrior: Type.Optional(
      Type.Number({
        minimum: 0,
        exclusiveMaximum: 0.5,
        default: DEFAULT_SWAP_PRIOR,
        description: 'Prior probability that a camera swapped a keypoint with its flip partner; 0 turns the swap mixture off.',
      }),
    ),
  },
  {
    additionalProperties: Type.Unsafe<Buffer>({
      contentMediaType: 'image/*',
      description: 'One image file per camera; the part’s name is the camera’s `name`.',
    }),
    examples: [
      {
        calibration: '[cam_0]\nname = "left"\nsize = [640, 480]\nmatrix = [[800, 0, 320], [0, 800, 240], [0, 0, 1]]\n…',
        boxes: { left: { x: 220, y: 150, width: 200, height: 180 }, right: { x: 210, y: 160, width: 200, height: 170 } },
        left: '(PNG or JPEG file bytes)',
        right: '(PNG or JPEG file bytes)',
        swapPrior: 0.05,
      },
    ],
  },
);

export type PredictMultiviewRequest = Static<typeof PredictMultiviewBody>;

export const PredictMultiviewResponse = Type.Object(
  {
    model: ModelSummary,
    cameras: Type.Array(
      Type.Object({
        name: Type.String(),
        image: Type.Object(
          { width: Type.Integer(), height: Type.Integer() },
          { description: 'Size of the EXIF-oriented image.' },
        ),
        instance: Type.Object(
          {
            box: Type.Ref('Box'),
            keypoints: Type.Array(Type.Ref('Keypoint')),
            views: Type.Optional(Type.Array(Type.Ref('ViewPrediction'))),
          },
          { description: 'The camera’s 2-D prediction, exactly as predict returns it.' },
        ),
      }),
    ),
    keypoints: Type.Array(TriangulatedPointOut, {
      description: 'Every keypoint triangulated from the cameras, in manifest order.',
    }),
    timings: Type.Object({
      predictMs: Type.Number({ description: 'All cameras’ 2-D predictions (run concurrently).' }),
      triangulateMs: Type.Number(),
      totalMs: Type.Number(),
    }),
  },
  {
    examples: [
      {
        model: { name: 'resnet101-huber-wflw', version: '1', trained: false, executionProvider: 'cpu', precision: 'fp32' },
        cameras: [
          {
            name: 'left',
            image: { width: 640, height: 480 },
            instance: {
              box: { x: 220, y: 150, width: 200, height: 180 },
              keypoints: [
                {
                  name: 'contour_0',
                  x: 251.2,
                  y: 230.4,
                  covariance: [
                    [4.1, 0.3],
                    [0.3, 6.2],
                  ],
                  ellipse: { level: 0.95, semiMajor: 6.8, semiMinor: 5.5, angle: 82.1 },
                  rmse: 3.2,
                },
              ],
            },
          },
        ],
        keypoints: [
          {
            name: 'contour_0',
            position: [-0.081, 0.012, 1.503],
            mode: [-0.081, 0.012, 1.503],
            covariance: [
              [2.1e-5, 1.0e-7, 3.0e-6],
              [1.0e-7, 1.3e-5, 0],
              [3.0e-6, 0, 1.4e-4],
            ],
            region: { level: 0.95, radius: 2.9 },
            rmse: 0.0131,
            iterations: 4,
            converged: true,
            cameras: [
              {
                camera: 'left',
                weight: 1,
                mahalanobis: 0.3,
                outlier: false,
                component: 0,
                reprojection: [251.4, 230.1],
                reprojectionError: 0.36,
              },
              {
                camera: 'right',
                weight: 1,
                mahalanobis: 0.3,
                outlier: false,
                component: 0,
                reprojection: [230.2, 241.7],
                reprojectionError: 0.31,
              },
            ],
          },
        ],
        timings: { predictMs: 31.2, triangulateMs: 0.4, totalMs: 31.9 },
      },
    ],
  },
);
