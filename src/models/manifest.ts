import Type, { type Static } from 'typebox';
import Value from 'typebox/value';

const Vector2 = Type.Tuple([Type.Number(), Type.Number()]);
const Matrix2 = Type.Tuple([Vector2, Vector2]);

export const KeypointSpec = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    mean: Type.Optional(Vector2),
    whitening: Type.Optional(Matrix2),
  },
  { additionalProperties: false },
);

/** The parent a variant was made from (docs/spec.md §12): sha256 is lowercase hex of the parent's ONNX bytes. */
export const VariantParent = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

/** How far a variant's outputs are from its parent's on the calibration crops (docs/spec.md §12), input pixels. */
export const VariantDeviation = Type.Object(
  {
    images: Type.Integer({ minimum: 1 }),
    crops: Type.Integer({ minimum: 1 }),
    calibration: Type.Union([Type.Literal('images'), Type.Literal('generated')]),
    maxPositionPx: Type.Number({ minimum: 0 }),
    meanPositionPx: Type.Number({ minimum: 0 }),
    maxRmseRelative: Type.Number({ minimum: 0 }),
    meanNllDelta: Type.Number(),
    maxPositionPxBudget: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false },
);

export type ModelPrecision = 'fp32' | 'fp16' | 'int8';

/** The model manifest of docs/spec.md §6: one per folder of the model repository. */
export const ManifestSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    version: Type.String({ minLength: 1 }),
    description: Type.String({ default: '' }),
    trained: Type.Boolean(),
    file: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*\\.onnx$' }),
    input: Type.Object(
      {
        name: Type.String({ minLength: 1 }),
        size: Type.Integer({ minimum: 8, maximum: 4096 }),
        mean: Type.Tuple([Type.Number(), Type.Number(), Type.Number()]),
        std: Type.Tuple([
          Type.Number({ exclusiveMinimum: 0 }),
          Type.Number({ exclusiveMinimum: 0 }),
          Type.Number({ exclusiveMinimum: 0 }),
        ]),
      },
      { additionalProperties: false },
    ),
    output: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    crop: Type.Object(
      {
        scale: Type.Number({ exclusiveMinimum: 0, maximum: 100 }),
        padding: Type.Union([Type.Literal('reflect'), Type.Literal('edge'), Type.Literal('constant')]),
      },
      { additionalProperties: false },
    ),
    distribution: Type.Object(
      {
        delta: Type.Number({ exclusiveMinimum: 0 }),
        theta: Type.Number({ exclusiveMinimum: 0 }),
        eigenvalueOffset: Type.Number(),
        parameterization: Type.Union([Type.Literal('nu'), Type.Literal('mu')]),
      },
      { additionalProperties: false },
    ),
    keypoints: Type.Array(KeypointSpec, { minItems: 1 }),
    flipPairs: Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]), { default: [] }),
    edges: Type.Optional(Type.Array(Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]))),
    precision: Type.Optional(Type.Union([Type.Literal('fp32'), Type.Literal('fp16'), Type.Literal('int8')])),
    derivedFrom: Type.Optional(VariantParent),
    deviation: Type.Optional(VariantDeviation),
  },
  { additionalProperties: false },
);

export type Manifest = Static<typeof ManifestSchema>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Validates a parsed manifest; the message names each offending field and the file it came from. */
export function parseManifest(json: unknown, source: string): Manifest {
  const withDefaults = Value.Default(ManifestSchema, Value.Clone(json));
  if (!Value.Check(ManifestSchema, withDefaults)) {
    const problems = Value.Errors(ManifestSchema, withDefaults)
      .slice(0, 8)
      .map((error) => `${error.instancePath || '(root)'}: ${error.message}`);
    throw new ManifestError(`${source}: invalid manifest: ${problems.join('; ')}`);
  }
  const manifest = withDefaults;
  const count = manifest.keypoints.length;
  const seen = new Set<number>();
  for (const [a, b] of manifest.flipPairs) {
    if (a >= count || b >= count) {
      throw new ManifestError(`${source}: flipPairs entry [${a}, ${b}] refers past the ${count} keypoints`);
    }
    if (a === b || seen.has(a) || seen.has(b)) {
      throw new ManifestError(`${source}: flipPairs entry [${a}, ${b}] repeats a keypoint or pairs one with itself`);
    }
    seen.add(a);
    seen.add(b);
  }
  for (const [a, b] of manifest.edges ?? []) {
    if (a >= count || b >= count) throw new ManifestError(`${source}: edges entry [${a}, ${b}] refers past the ${count} keypoints`);
  }
  const names = new Set<string>();
  for (const keypoint of manifest.keypoints) {
    if (names.has(keypoint.name)) throw new ManifestError(`${source}: keypoint name "${keypoint.name}" appears twice`);
    names.add(keypoint.name);
    const h = keypoint.whitening;
    if (h) {
      // Any invertible H serves (docs/spec.md §3): a symmetric inverse square root, a Cholesky factor, …
      const entries = h.flat();
      if (!entries.every(Number.isFinite)) {
        throw new ManifestError(`${source}: keypoint "${keypoint.name}" whitening has a non-finite entry`);
      }
      const det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
      const size = Math.max(...entries.map(Math.abs));
      if (!(Math.abs(det) > 1e-12 * size * size)) {
        throw new ManifestError(`${source}: keypoint "${keypoint.name}" whitening is singular (determinant ${det})`);
      }
    }
  }
  return manifest;
}

/** The permutation that maps a mirrored view's output slot to the original keypoint (docs/spec.md §3). */
export function flipPermutation(manifest: Manifest): Int32Array {
  const permutation = Int32Array.from(manifest.keypoints, (_, index) => index);
  for (const [a, b] of manifest.flipPairs) {
    permutation[a] = b;
    permutation[b] = a;
  }
  return permutation;
}
