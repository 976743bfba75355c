import Type from 'typebox';

/** A two-keypoint model as `GET /v1/models/{model}` describes it (the manifest shortened to its keypoints). */
function modelInfoExample() {
  const keypoints = ['left_eye', 'right_eye'].map((name) => ({
    name,
    mean: [0, 0],
    whitening: [
      [1, 0],
      [0, 1],
    ],
  }));
  return {
    name: 'eyes-huber',
    state: 'ready',
    error: null,
    version: '1',
    description: 'Eye centres',
    trained: true,
    executionProvider: 'cpu',
    executionProviderFallbacks: [{ provider: 'cuda', reason: 'CUDA execution provider is not available in this build' }],
    precision: 'fp32',
    inputs: [{ name: 'input', shape: ['N', 3, 224, 224], type: 'float32' }],
    outputs: [{ name: 'output', shape: ['N', 10], type: 'float32' }],
    kappa: 3.0764736783898,
    manifest: { name: 'eyes-huber', version: '1', trained: true, file: 'model.onnx', keypoints, flipPairs: [[0, 1]] },
  };
}

const TensorInfo = Type.Object({
  name: Type.String(),
  shape: Type.Array(Type.Union([Type.Integer(), Type.String()]), { description: 'Numbers, or names of dynamic axes.' }),
  type: Type.String(),
});

export const ModelInfo = Type.Object(
  {
    name: Type.String(),
    state: Type.Union([Type.Literal('loading'), Type.Literal('ready'), Type.Literal('failed')]),
    error: Type.Union([Type.String(), Type.Null()], { description: 'Why the model failed to load, when it did.' }),
    version: Type.Union([Type.String(), Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    trained: Type.Union([Type.Boolean(), Type.Null()], {
      description: 'false: demonstration weights; predictions carry no information about the image.',
    }),
    executionProvider: Type.Union([Type.String(), Type.Null()]),
    executionProviderFallbacks: Type.Array(Type.Object({ provider: Type.String(), reason: Type.String() })),
    precision: Type.Union([Type.Literal('fp32'), Type.Literal('fp16'), Type.Literal('int8'), Type.Null()], {
      description: 'fp32, or the precision of a variant (docs/spec.md §12); null while the manifest is unread or invalid.',
    }),
    inputs: Type.Array(TensorInfo),
    outputs: Type.Array(TensorInfo),
    kappa: Type.Union([Type.Number(), Type.Null()], { description: 'κ_d(δ): covariance = κ · Λ⁻¹.' }),
    manifest: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'The manifest.json as loaded (docs/spec.md §6).',
    }),
  },
  { $id: 'ModelInfo', examples: [modelInfoExample()] },
);

export const ModelList = Type.Object(
  { models: Type.Array(Type.Ref('ModelInfo')) },
  { examples: [{ models: [modelInfoExample()] }] },
);

export const ModelParams = Type.Object({
  model: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Model name: its folder in the model repository.',
    examples: ['resnet101-huber-wflw'],
  }),
});
