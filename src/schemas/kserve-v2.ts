import Type, { type Static } from 'typebox';

/*
 * KServe's Open Inference Protocol (v2) over REST, so the service can run as a KServe custom
 * predictor beside its native API. The tensors this model exposes:
 *   inputs  image      UINT8 [H, W, 3]  RGB pixels, row-major (flat or nested JSON data)
 *           boxes      FP32  [B, 4]     x, y, width, height in image pixels (optional: whole image)
 *   outputs keypoints  FP32  [B, K, 2]  x, y in image pixels
 *           covariance FP32  [B, K, 2, 2] Σ in pixels²
 *           ellipse    FP32  [B, K, 3]  semi-major, semi-minor (pixels), angle (degrees from +x toward +y)
 *           rmse       FP32  [B, K]     √(trace Σ), pixels
 *           boxes      FP32  [B, 4]     the boxes predicted (the whole image when none were sent)
 * Request parameters `tta`, `fusion` and `level` mean what they mean in the native API.
 */

export const Parameters = Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.Number(), Type.String()]), {
  description: 'Protocol parameters: string, number or boolean values.',
});

export const TensorMetadata = Type.Object({
  name: Type.String(),
  datatype: Type.String({ description: 'A v2 tensor datatype: UINT8, FP32, …' }),
  shape: Type.Array(Type.Integer(), { description: '-1 marks a variable-size dimension.' }),
});

export const V2Params = Type.Object({
  model: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Model name: its folder in the model repository.',
    examples: ['resnet101-huber-wflw'],
  }),
});

export const RequestInput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer({ minimum: 0 })),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Unknown(), { description: 'Tensor elements in row-major order, flat or nested.' }),
});

export const InferRequest = Type.Object(
  {
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(RequestInput, { minItems: 1 }),
    outputs: Type.Optional(
      Type.Array(Type.Object({ name: Type.String(), parameters: Type.Optional(Parameters) }), {
        description: 'The outputs to return; all of them when omitted.',
      }),
    ),
  },
  {
    examples: [
      {
        id: 'frame-42',
        parameters: { tta: true, fusion: 'ml', level: 0.95 },
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [2, 2, 3], data: [0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255] },
          { name: 'boxes', datatype: 'FP32', shape: [1, 4], data: [0, 0, 2, 2] },
        ],
        outputs: [{ name: 'keypoints' }, { name: 'covariance' }],
      },
    ],
  },
);
export type InferRequestBody = Static<typeof InferRequest>;

export const ResponseOutput = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Integer()),
  datatype: Type.String(),
  parameters: Type.Optional(Parameters),
  data: Type.Array(Type.Number(), { description: 'Row-major, flattened.' }),
});

export const InferResponse = Type.Object(
  {
    model_name: Type.String(),
    model_version: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(Parameters),
    outputs: Type.Array(ResponseOutput),
  },
  {
    examples: [
      {
        model_name: 'resnet101-huber-wflw',
        model_version: '1',
        id: 'frame-42',
        parameters: { trained: false, execution_provider: 'cpu', level: 0.95, keypoint_names: 'left_dot,right_dot' },
        outputs: [
          { name: 'keypoints', datatype: 'FP32', shape: [1, 2, 2], data: [0.61, 1.02, 1.43, 0.98] },
          { name: 'covariance', datatype: 'FP32', shape: [1, 2, 2, 2], data: [0.1, -0.02, -0.02, 0.2, 0.1, -0.02, -0.02, 0.2] },
        ],
      },
    ],
  },
);

export const ModelMetadata = Type.Object(
  {
    name: Type.String(),
    versions: Type.Array(Type.String()),
    platform: Type.String(),
    inputs: Type.Array(TensorMetadata),
    outputs: Type.Array(TensorMetadata),
  },
  {
    examples: [
      {
        name: 'resnet101-huber-wflw',
        versions: ['1'],
        platform: 'onnxruntime',
        inputs: [
          { name: 'image', datatype: 'UINT8', shape: [-1, -1, 3] },
          { name: 'boxes', datatype: 'FP32', shape: [-1, 4] },
        ],
        outputs: [{ name: 'keypoints', datatype: 'FP32', shape: [-1, 98, 2] }],
      },
    ],
  },
);

export type RequestInputTensor = Static<typeof RequestInput>;
