import Type, { type Static } from 'typebox';

export const Box = Type.Object(
  {
    x: Type.Number({ description: 'Left edge, image pixels (continuous coordinates: 0 is the left edge of the first pixel).' }),
    y: Type.Number({ description: 'Top edge, image pixels.' }),
    width: Type.Number({ exclusiveMinimum: 0, description: 'Box width, image pixels.' }),
    height: Type.Number({ exclusiveMinimum: 0, description: 'Box height, image pixels.' }),
  },
  { $id: 'Box', additionalProperties: false, examples: [{ x: 420, y: 160, width: 300, height: 340 }] },
);

const predictOptions = {
  boxes: Type.Optional(
    Type.Array(Type.Ref('Box'), {
      description: 'Boxes around the objects (faces, people). Omitted or empty: the whole image is one box.',
    }),
  ),
  tta: Type.Optional(Type.Boolean({ default: true, description: 'Also run the left-right mirrored view and fuse the two.' })),
  fusion: Type.Optional(
    Type.Union([Type.Literal('ml'), Type.Literal('mean')], {
      default: 'ml',
      description: '"ml": maximum-likelihood point of the views (majorize-minimize); "mean": average of the view means.',
    }),
  ),
  level: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.95,
      description: 'Probability mass inside each reported ellipse.',
    }),
  ),
  includeViews: Type.Optional(Type.Boolean({ default: false, description: "Also return each view's own distributions." })),
};

export const PredictJsonBody = Type.Object(
  {
    image: Type.String({
      minLength: 1,
      contentEncoding: 'base64',
      description: 'The image file (JPEG, PNG, WebP, AVIF or TIFF), base64-encoded.',
    }),
    ...predictOptions,
  },
  {
    additionalProperties: false,
    examples: [
      {
        image:
          'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAADElEQVQImWNgYGAAAAAEAAGjChXjAAAAAElFTkSuQmCC',
        boxes: [{ x: 420, y: 160, width: 300, height: 340 }],
        tta: true,
        fusion: 'ml',
        level: 0.95,
      },
    ],
  },
);

/** The multipart form: the same fields, the image as a file part and `boxes` as a JSON-encoded part. */
export const PredictMultipartBody = Type.Object(
  {
    // No `type` here: the validator sees the part's bytes; the OpenAPI document adds `type: string, format: binary`.
    image: Type.Unsafe<Buffer>({ description: 'The image file.' }),
    ...predictOptions,
  },
  {
    additionalProperties: false,
    examples: [{ image: '(PNG or JPEG file bytes)', boxes: [{ x: 420, y: 160, width: 300, height: 340 }], tta: true }],
  },
);

/** The body after validation, which fills every default. */
export type PredictBody = Required<Omit<Static<typeof PredictJsonBody>, 'image' | 'boxes'>> & {
  // `boxes` refers to the Box schema by $ref, which Static cannot follow.
  boxes?: Static<typeof Box>[];
  image: string | Buffer;
};

function keypointExample(name: string, x: number, y: number) {
  return {
    name,
    x,
    y,
    covariance: [
      [55.29, 4.1],
      [4.1, 129.64],
    ],
    ellipse: { level: 0.95, semiMajor: 31.06, semiMinor: 20.15, angle: 86.8 },
    rmse: 13.6,
  };
}

// Fixed-length arrays rather than Type.Tuple: TypeBox writes tuples as draft-07 `items: [...]`, which is
// not a schema in OpenAPI 3.1's JSON Schema 2020-12, so the published document would be invalid.
const Pair = Type.Array(Type.Number(), { minItems: 2, maxItems: 2 });
const Matrix2 = Type.Array(Pair, { minItems: 2, maxItems: 2 });

export const Ellipse = Type.Object(
  {
    level: Type.Number({ description: 'Probability mass inside the ellipse.' }),
    semiMajor: Type.Number({ description: 'Semi-major axis, image pixels.' }),
    semiMinor: Type.Number({ description: 'Semi-minor axis, image pixels.' }),
    angle: Type.Number({ description: 'Major axis direction in degrees from +x toward +y (as SVG rotate() draws it).' }),
  },
  { $id: 'Ellipse', examples: [{ level: 0.95, semiMajor: 31.06, semiMinor: 20.15, angle: 86.8 }] },
);

const keypointFields = {
  x: Type.Number({ description: 'Image x, pixels.' }),
  y: Type.Number({ description: 'Image y, pixels.' }),
  covariance: { ...Matrix2, description: 'Covariance Σ in image pixels², [[σxx, σxy], [σxy, σyy]].' },
  ellipse: Type.Ref('Ellipse'),
  rmse: Type.Number({ description: 'Expected distance error √(trace Σ), pixels.' }),
};

export const Keypoint = Type.Object(
  { name: Type.String(), ...keypointFields },
  { $id: 'Keypoint', examples: [keypointExample('contour_0', 469.69, 314.36)] },
);

export const ViewPrediction = Type.Object(
  {
    mirrored: Type.Boolean(),
    keypoints: Type.Array(Type.Object({ name: Type.String(), ...keypointFields })),
  },
  { $id: 'ViewPrediction', examples: [{ mirrored: true, keypoints: [keypointExample('contour_0', 469.9, 314.1)] }] },
);

export const ModelSummary = Type.Object({
  name: Type.String(),
  version: Type.String(),
  trained: Type.Boolean({ description: 'false: demonstration weights, predictions carry no information about the image.' }),
  executionProvider: Type.String({ description: 'ONNX Runtime execution provider that ran the model (cuda or cpu).' }),
  precision: Type.Union([Type.Literal('fp32'), Type.Literal('fp16'), Type.Literal('int8')], {
    description: "The model's numeric precision: fp32, or an fp16 / int8 variant of an fp32 parent (docs/spec.md §12).",
  }),
});

export const PredictResponse = Type.Object(
  {
    model: ModelSummary,
    image: Type.Object({ width: Type.Integer(), height: Type.Integer() }, { description: 'Size of the EXIF-oriented image.' }),
    instances: Type.Array(
      Type.Object({
        box: Type.Ref('Box'),
        keypoints: Type.Array(Type.Ref('Keypoint')),
        views: Type.Optional(Type.Array(Type.Ref('ViewPrediction'))),
      }),
    ),
    timings: Type.Object({
      decodeMs: Type.Number({ description: 'Image decode and crop sampling.' }),
      inferenceMs: Type.Number({ description: 'Waiting for a batch and running it.' }),
      postprocessMs: Type.Number({ description: 'Decoding outputs, fusion and description.' }),
      totalMs: Type.Number(),
    }),
  },
  {
    examples: [
      {
        model: { name: 'resnet101-huber-wflw', version: '1', trained: false, executionProvider: 'cpu', precision: 'fp32' },
        image: { width: 640, height: 480 },
        instances: [
          {
            box: { x: 420, y: 160, width: 300, height: 340 },
            keypoints: [keypointExample('contour_0', 469.69, 314.36), keypointExample('contour_1', 471.2, 330.02)],
          },
        ],
        timings: { decodeMs: 15.03, inferenceMs: 10.68, postprocessMs: 1.48, totalMs: 27.19 },
      },
    ],
  },
);

export type PredictResponseBody = Static<typeof PredictResponse>;
