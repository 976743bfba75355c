import Type from 'typebox';

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
    inputs: Type.Array(TensorInfo),
    outputs: Type.Array(TensorInfo),
    kappa: Type.Union([Type.Number(), Type.Null()], { description: 'κ_d(δ): covariance = κ · Λ⁻¹.' }),
    manifest: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      description: 'The manifest.json as loaded (SPEC §6).',
    }),
  },
  { $id: 'ModelInfo' },
);

export const ModelList = Type.Object({ models: Type.Array(Type.Ref('ModelInfo')) });

export const ModelParams = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200, description: 'Model name: its folder in the model repository.' }),
});
