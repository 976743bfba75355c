// Fixture models for tests, built from ONNX operators so their outputs are
// known in closed form, and a writer for a model repository holding them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '../../tools/model-builder/onnx-graph-builder.js';
import { buildResNetHuber } from '../../tools/model-builder/resnet-huber.js';
import { formatManifest, IMAGENET_MEAN, IMAGENET_STD, type ModelManifestJson } from '../../src/models/manifest-json.js';
import { WFLW_KEYPOINT_COUNT, wflwFlipPairs, wflwManifestKeypoints } from '../../tools/model-builder/wflw.js';
import { DEFAULT_DIAGONAL_BIAS } from '../../tools/model-builder/default-model.js';

type Vec2 = [number, number];
type Mat2 = [Vec2, Vec2];

/**
 * The dots models' A = Λ^½, the same for both keypoints: eigenvalues 2.25 and
 * 1 (both ≥ θ = 1, so the remap g is the identity on them) with a nonzero
 * off-diagonal, so the covariance is anisotropic and tilted.
 */
export const DOTS_A: Mat2 = [
  [2, 0.5],
  [0.5, 1.25],
];
export const DOTS_EIGENVALUE_OFFSET = 25.5;
/**
 * The constant raw outputs [b₁₁, b₁₂, b₂₂] that decode to DOTS_A under SPEC §2
 * with offset 25.5: B = A − 25.5·I, and b₁₂ = √2·B₁₂.
 */
export const DOTS_B_RAW: readonly [number, number, number] = [
  DOTS_A[0][0] - DOTS_EIGENVALUE_OFFSET,
  Math.SQRT2 * DOTS_A[0][1],
  DOTS_A[1][1] - DOTS_EIGENVALUE_OFFSET,
];
export const DOTS_INPUT_SIZE = 64;
// Keeps an all-black half finite: its "centroid" becomes the half's centre.
// Against a single lit pixel (mass ≥ 1/255) the bias is below 1e-5 px.
const DOTS_EPSILON = 1e-9;

/** Landmark normalization used by the `dots-nu` fixture (differs per keypoint on purpose). */
export const DOTS_NU_NORMALIZATION: readonly { mean: Vec2; whitening: Mat2 }[] = [
  {
    mean: [16, 32],
    whitening: [
      [0.5, 0.1],
      [0.1, 0.25],
    ],
  },
  {
    mean: [48, 30],
    whitening: [
      [0.25, -0.05],
      [-0.05, 0.4],
    ],
  },
];
const IDENTITY_NORMALIZATION: readonly { mean: Vec2; whitening: Mat2 }[] = [
  {
    mean: [0, 0],
    whitening: [
      [1, 0],
      [0, 1],
    ],
  },
  {
    mean: [0, 0],
    whitening: [
      [1, 0],
      [0, 1],
    ],
  },
];

export interface DotsModelOptions {
  size?: number;
  parameterization?: 'mu' | 'nu';
  /** Per keypoint (left, right) m_k and H_k the graph bakes in; identity by default. */
  normalization?: readonly { mean: Vec2; whitening: Mat2 }[];
  /**
   * 'pixel' (default): position moments Σ x·I in input pixels, all six moments in one tensor. 'crop':
   * Σ (x/S)·I in their own tensor, masses in another, as per-tensor INT8 activation scales need (with
   * 'pixel' the masses fall below one quantization step of the position moments); the head scales
   * back by S. For INT8 variant tests: a half without intensity divides 0 by 0 once quantized.
   */
  momentUnit?: 'pixel' | 'crop';
}

/**
 * Input [N,3,S,S] holding v/255 (the manifests say mean 0, std 1); output
 * [N,10]: per keypoint (left half x < S/2, right half) [ν_x, ν_y, b₁₁, b₁₂, b₂₂]
 * where the decoded and de-normalized mean is the intensity-weighted centroid
 * of that half (channel sum as intensity, pixel (i, j) at (i+0.5, j+0.5) in
 * input pixels) and the b's are DOTS_B_RAW. With normalization (m, H):
 * μ-parameterization emits ν = H(c − m); ν-parameterization emits ν = A·H(c − m).
 */
export function buildDotsModel(options: DotsModelOptions = {}): Buffer {
  const S = options.size ?? DOTS_INPUT_SIZE;
  if (!Number.isInteger(S) || S < 2 || S % 2 !== 0) throw new Error(`dots size must be even, got ${S}`);
  const param = options.parameterization ?? 'mu';
  const norm = options.normalization ?? IDENTITY_NORMALIZATION;
  const g = new OnnxGraphBuilder({ name: `dots-${param}`, docString: 'left/right intensity centroids' });
  g.addInput('input', ['N', 3, S, S]);

  const { centroid, scale, offset } = options.momentUnit === 'crop' ? cropUnitCentroids(g, S) : pixelCentroids(g, S);

  // output = centroid · W + C, W and C built from M_k = (A or I)·H_k, m_k and centroid → pixel (scale, offset).
  const W = new Float32Array(4 * 10);
  const C = new Float32Array(10);
  for (let k = 0; k < 2; k++) {
    const { mean, whitening: H } = norm[k]!;
    const M = param === 'nu' ? matMul(DOTS_A, H) : H;
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) W[(2 * k + c) * 10 + 5 * k + r] = M[r]![c]! * scale[2 * k + c]!;
      C[5 * k + r] = M[r]![0] * (offset[2 * k]! - mean[0]) + M[r]![1] * (offset[2 * k + 1]! - mean[1]);
    }
    C[5 * k + 2] = DOTS_B_RAW[0];
    C[5 * k + 3] = DOTS_B_RAW[1];
    C[5 * k + 4] = DOTS_B_RAW[2];
  }
  g.op(
    'Gemm',
    [centroid, g.addInitializer('head.weight', W, [4, 10]), g.addInitializer('head.bias', C, [10])],
    undefined,
    'output',
  );
  g.addOutput('output', ['N', 10]);
  return g.toBuffer();
}

/** The graph's centroid tensor [N,4]; input pixel (xL, yL, xR, yR)_i = scale_i · centroid_i + offset_i. */
interface Centroids {
  centroid: string;
  scale: readonly number[];
  offset: readonly number[];
}

/** Centroids in input pixels: one conv for all six moments, Gemms to pick them. */
function pixelCentroids(g: OnnxGraphBuilder, S: number): Centroids {
  const half = S / 2;
  // One S×S conv computes all six moments: per half, mass, Σ x·I and Σ y·I.
  const w = new Float32Array(6 * 3 * S * S);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) {
        const o = j < half ? 0 : 3;
        const at = (ch: number) => ((ch * 3 + c) * S + i) * S + j;
        w[at(o)] = 1;
        w[at(o + 1)] = j + 0.5;
        w[at(o + 2)] = i + 0.5;
      }
    }
  }
  const moments = g.op('Conv', ['input', g.addInitializer('moments.weight', w, [6, 3, S, S])], {
    kernel_shape: [S, S],
  });
  const flat = g.op('Flatten', [moments], { axis: 1 });

  // numerator [N,4] = (ΣxL, ΣyL, ΣxR, ΣyR) + ε·centre, denominator = (mL, mL, mR, mR) + ε
  const pNum = new Float32Array(6 * 4);
  const pDen = new Float32Array(6 * 4);
  for (const [slot, row] of [
    [0, 1],
    [1, 2],
    [2, 4],
    [3, 5],
  ] as const)
    pNum[row * 4 + slot] = 1;
  for (const [slot, row] of [
    [0, 0],
    [1, 0],
    [2, 3],
    [3, 3],
  ] as const)
    pDen[row * 4 + slot] = 1;
  const centre = Float32Array.from([half / 2, S / 2, half + half / 2, S / 2], (v) => v * DOTS_EPSILON);
  const num = g.op('Gemm', [flat, g.addInitializer('select.num', pNum, [6, 4]), g.addInitializer('eps.num', centre, [4])]);
  const den = g.op('Gemm', [
    flat,
    g.addInitializer('select.den', pDen, [6, 4]),
    g.addInitializer('eps.den', new Float32Array(4).fill(DOTS_EPSILON), [4]),
  ]);
  return { centroid: g.op('Div', [num, den], undefined, 'centroid'), scale: [1, 1, 1, 1], offset: [0, 0, 0, 0] };
}

/**
 * Centroids in units of S: one conv for the four position moments and one for the masses, so each
 * gets its own INT8 activation scale, divided straight away (a single activation quantization).
 * Position weights are (pixel index + 1) / S, the left half's x counted from the right (S − j), so
 * every channel's largest weight is 1: for S = 64 each weight is a whole number of steps of ONNX
 * Runtime's reduced-range per-channel grid (±64 levels), and weight quantization moves no centroid.
 */
function cropUnitCentroids(g: OnnxGraphBuilder, S: number): Centroids {
  const half = S / 2;
  const position = new Float32Array(4 * 3 * S * S);
  const mass = new Float32Array(4 * 3 * S * S);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) {
        const o = j < half ? 0 : 2;
        const at = (ch: number) => ((ch * 3 + c) * S + i) * S + j;
        position[at(o)] = (j < half ? S - j : j + 1) / S;
        position[at(o + 1)] = (i + 1) / S;
        mass[at(o)] = 1;
        mass[at(o + 1)] = 1;
      }
    }
  }
  const scale = [-S, S, S, S];
  const offset = [S + 0.5, -0.5, -0.5, -0.5];
  const centre = Float32Array.from(
    [half / 2, S / 2, half + half / 2, S / 2],
    (v, i) => ((v - offset[i]!) / scale[i]!) * DOTS_EPSILON,
  );
  const num = g.op(
    'Conv',
    ['input', g.addInitializer('moments.position', position, [4, 3, S, S]), g.addInitializer('eps.num', centre, [4])],
    {
      kernel_shape: [S, S],
    },
  );
  const den = g.op(
    'Conv',
    [
      'input',
      g.addInitializer('moments.mass', mass, [4, 3, S, S]),
      g.addInitializer('eps.den', new Float32Array(4).fill(DOTS_EPSILON), [4]),
    ],
    {
      kernel_shape: [S, S],
    },
  );
  return { centroid: g.op('Flatten', [g.op('Div', [num, den])], { axis: 1 }, 'centroid'), scale, offset };
}

function matMul(a: Mat2, b: Mat2): Mat2 {
  return [
    [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1]],
    [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1]],
  ];
}

export function dotsManifest(
  name: string,
  parameterization: 'mu' | 'nu',
  normalization: readonly { mean: Vec2; whitening: Mat2 }[] = IDENTITY_NORMALIZATION,
  size = DOTS_INPUT_SIZE,
): ModelManifestJson {
  return {
    name,
    version: '1',
    description:
      'Test fixture: each keypoint is the intensity centroid of one half of the crop (left_dot: x < S/2), ' +
      `with a constant anisotropic precision (${parameterization}-parameterization).`,
    trained: false,
    file: 'model.onnx',
    input: { name: 'input', size, mean: [0, 0, 0], std: [1, 1, 1] },
    output: { name: 'output' },
    // Black outside the image adds no intensity, so the centroid stays put.
    crop: { scale: 1.0, padding: 'constant' },
    distribution: { delta: 1.0, theta: 1.0, eigenvalueOffset: DOTS_EIGENVALUE_OFFSET, parameterization },
    keypoints: ['left_dot', 'right_dot'].map((kpName, k) => {
      const { mean, whitening } = normalization[k]!;
      return { name: kpName, mean: [...mean], whitening: [[...whitening[0]], [...whitening[1]]] };
    }),
    flipPairs: [[0, 1]],
    // One line between the dots, so render draws an edge.
    edges: [[0, 1]],
  };
}

export const RESNET18_TINY_SEED = 18;

let resnet18Cache: { inputSize: number; bytes: Buffer } | undefined;

/** ResNet-18 trunk + the paper's head, 98 WFLW keypoints, seeded (memoized per input size). */
export function buildResNet18TinyModel(inputSize = 224): Buffer {
  if (resnet18Cache?.inputSize !== inputSize) {
    resnet18Cache = {
      inputSize,
      bytes: buildResNetHuber({
        blocks: 'resnet18',
        keypoints: WFLW_KEYPOINT_COUNT,
        inputSize,
        seed: RESNET18_TINY_SEED,
        diagonalBias: DEFAULT_DIAGONAL_BIAS,
      }),
    };
  }
  return resnet18Cache.bytes;
}

export function resnet18TinyManifest(inputSize = 224): ModelManifestJson {
  return {
    name: 'resnet18-huber-tiny',
    version: '1',
    description: "Test fixture: ResNet-18 trunk with the default model's head and WFLW manifest; seeded, untrained.",
    trained: false,
    file: 'model.onnx',
    input: { name: 'input', size: inputSize, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
    output: { name: 'output' },
    crop: { scale: 1.0, padding: 'reflect' },
    distribution: { delta: 1.0, theta: 1.0, eigenvalueOffset: 25.5, parameterization: 'nu' },
    keypoints: wflwManifestKeypoints(inputSize),
    flipPairs: wflwFlipPairs(),
  };
}

export type FixtureModelName = 'dots' | 'dots-nu' | 'resnet18-huber-tiny';
export const FIXTURE_MODEL_NAMES: readonly FixtureModelName[] = ['dots', 'dots-nu', 'resnet18-huber-tiny'];

export function fixtureModel(name: FixtureModelName): { manifest: ModelManifestJson; onnx: Buffer } {
  switch (name) {
    case 'dots':
      return { manifest: dotsManifest('dots', 'mu'), onnx: buildDotsModel({ parameterization: 'mu' }) };
    case 'dots-nu':
      return {
        manifest: dotsManifest('dots-nu', 'nu', DOTS_NU_NORMALIZATION),
        onnx: buildDotsModel({ parameterization: 'nu', normalization: DOTS_NU_NORMALIZATION }),
      };
    case 'resnet18-huber-tiny':
      return { manifest: resnet18TinyManifest(), onnx: buildResNet18TinyModel() };
  }
}

/** Writes `dir/<manifest.name>/{manifest.json, model.onnx}`; returns the folder. */
export async function writeModelFolder(
  dir: string,
  manifest: ModelManifestJson,
  onnx: Buffer | Uint8Array | null,
  folder = manifest.name,
): Promise<string> {
  const modelDir = join(dir, folder);
  await mkdir(modelDir, { recursive: true });
  await writeFile(join(modelDir, 'manifest.json'), formatManifest(manifest));
  if (onnx) await writeFile(join(modelDir, manifest.file), onnx);
  return modelDir;
}

export type BrokenModelKind =
  | 'corrupt-onnx'
  | 'truncated-onnx'
  | 'missing-onnx'
  | 'wrong-output-width'
  | 'wrong-input-name'
  | 'wrong-output-name'
  | 'wrong-input-size'
  | 'invalid-manifest'
  | 'unparsable-manifest';

export const BROKEN_MODEL_KINDS: readonly BrokenModelKind[] = [
  'corrupt-onnx',
  'truncated-onnx',
  'missing-onnx',
  'wrong-output-width',
  'wrong-input-name',
  'wrong-output-name',
  'wrong-input-size',
  'invalid-manifest',
  'unparsable-manifest',
];

/**
 * A model folder `broken-<kind>` that must fail to load; everything else about
 * it is the `dots` fixture, so the named defect is the only reason:
 * - corrupt-onnx / truncated-onnx: the bytes are not a loadable ONNX model
 * - missing-onnx: the manifest's file does not exist
 * - wrong-output-width: the manifest lists 3 keypoints, the ONNX emits 10 = 5·2 values
 * - wrong-input-name / wrong-output-name: names absent from the ONNX graph
 * - wrong-input-size: manifest says 32, the ONNX input is 64 × 64
 * - invalid-manifest: valid JSON that breaks the schema (unknown parameterization)
 * - unparsable-manifest: not JSON at all
 */
export async function writeBrokenModel(dir: string, kind: BrokenModelKind): Promise<string> {
  const name = `broken-${kind}`;
  const manifest = dotsManifest(name, 'mu');
  const onnx = buildDotsModel();
  switch (kind) {
    case 'corrupt-onnx': {
      const junk = Buffer.alloc(4096);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
      return writeModelFolder(dir, manifest, junk);
    }
    case 'truncated-onnx':
      return writeModelFolder(dir, manifest, onnx.subarray(0, Math.floor(onnx.length / 2)));
    case 'missing-onnx':
      return writeModelFolder(dir, manifest, null);
    case 'wrong-output-width':
      manifest.keypoints.push({
        name: 'extra_dot',
        mean: [0, 0],
        whitening: [
          [1, 0],
          [0, 1],
        ],
      });
      return writeModelFolder(dir, manifest, onnx);
    case 'wrong-input-name':
      manifest.input.name = 'image';
      return writeModelFolder(dir, manifest, onnx);
    case 'wrong-output-name':
      manifest.output.name = 'logits';
      return writeModelFolder(dir, manifest, onnx);
    case 'wrong-input-size':
      manifest.input.size = 32;
      return writeModelFolder(dir, manifest, onnx);
    case 'invalid-manifest': {
      const modelDir = await writeModelFolder(dir, manifest, onnx);
      const bad = { ...manifest, distribution: { ...manifest.distribution, parameterization: 'sigma' } };
      await writeFile(join(modelDir, 'manifest.json'), JSON.stringify(bad, null, 2));
      return modelDir;
    }
    case 'unparsable-manifest': {
      const modelDir = await writeModelFolder(dir, manifest, onnx);
      await writeFile(join(modelDir, 'manifest.json'), '{ "name": "broken-unparsable-manifest", ');
      return modelDir;
    }
  }
}

export interface FixtureRepositoryOptions {
  /** Which good models to write; all of FIXTURE_MODEL_NAMES by default. */
  models?: readonly FixtureModelName[];
  /** Broken folders to add next to them; none by default. */
  broken?: readonly BrokenModelKind[];
}

/** Writes a model repository into `dir` (created if needed); returns the folder names written. */
export async function writeFixtureRepository(
  dir: string,
  options: FixtureRepositoryOptions = {},
): Promise<{ dir: string; models: string[]; broken: string[] }> {
  await mkdir(dir, { recursive: true });
  const models: string[] = [];
  for (const name of options.models ?? FIXTURE_MODEL_NAMES) {
    const { manifest, onnx } = fixtureModel(name);
    await writeModelFolder(dir, manifest, onnx);
    models.push(name);
  }
  const broken: string[] = [];
  for (const kind of options.broken ?? []) {
    await writeBrokenModel(dir, kind);
    broken.push(`broken-${kind}`);
  }
  return { dir, models, broken };
}
