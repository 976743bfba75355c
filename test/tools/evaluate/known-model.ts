/**
 * A fixture model whose raw outputs are known exactly: every output is a constant (a zero-weight layer plus a
 * float32 bias), so for any crop the served means and covariances follow from SPEC §2–§4 in closed form, and
 * the evaluation tests can compute every expected number without the service's code.
 */
import { OnnxGraphBuilder } from '../../../tools/model-builder/onnx-graph-builder.js';
import type { ModelManifestJson } from '../../../src/models/manifest-json.js';
import type { Rng } from '../../helpers/prng.js';

export const KNOWN_INPUT_SIZE = 16;
export const KNOWN_EIGENVALUE_OFFSET = 25.5;

export type Mat2 = [[number, number], [number, number]];

export interface KnownKeypoint {
  /** The emitted ν = mean in input pixels (μ-parameterization, identity normalization). */
  q: [number, number];
  /** A = B + offset·I, decoded from the float32 raw [b₁₁, b₁₂, b₂₂] exactly as SPEC §2 reads them. */
  a: Mat2;
}

export interface KnownModel {
  raw: Float32Array;
  keypoints: KnownKeypoint[];
  flipPairs: [number, number][];
}

/** Multiples of 1/64 are exact in float32, so the emitted means are exactly the chosen numbers. */
function grid(value: number): number {
  return Math.round(value * 64) / 64;
}

/**
 * Per flip pair (a, b): q_b is the mirror of q_a moved by at most 1/8 px, so the two TTA views of a keypoint
 * disagree a little (‖A Δμ‖ < δ: ML fusion then lands on its closed form in one step). Unpaired keypoints sit
 * within 1/8 px of the crop's vertical mid-line for the same reason. `pinned` fixes chosen keypoints' q.
 */
export function knownModel(
  count: number,
  flipPairs: [number, number][],
  rng: Rng,
  pinned: Record<number, [number, number]> = {},
): KnownModel {
  const S = KNOWN_INPUT_SIZE;
  const q: ([number, number] | undefined)[] = new Array(count);
  const jitter = () => grid(rng.range(-0.125, 0.125));
  for (const [a, b] of flipPairs) {
    q[a] = pinned[a] ?? [grid(rng.range(1, S / 2 - 2)), grid(rng.range(1, S - 1))];
    q[b] = [S - q[a][0] + jitter(), q[a][1] + jitter()];
  }
  for (let k = 0; k < count; k++) q[k] ??= [S / 2 + jitter(), grid(rng.range(1, S - 1))];
  const raw = new Float32Array(5 * count);
  const keypoints: KnownKeypoint[] = [];
  for (let k = 0; k < count; k++) {
    // A with eigenvalues in [1.5, 3] (≥ θ = 1, so the remap is the identity) and a random tilt.
    const l1 = rng.range(1.5, 3);
    const l2 = rng.range(1.5, 3);
    const t = rng.range(0, Math.PI);
    const c = Math.cos(t);
    const s = Math.sin(t);
    raw.set(
      [
        q[k]![0],
        q[k]![1],
        l1 * c * c + l2 * s * s - KNOWN_EIGENVALUE_OFFSET,
        Math.SQRT2 * (l1 - l2) * c * s,
        l1 * s * s + l2 * c * c - KNOWN_EIGENVALUE_OFFSET,
      ],
      5 * k,
    );
    const [b11, b12, b22] = [raw[5 * k + 2]!, raw[5 * k + 3]!, raw[5 * k + 4]!];
    keypoints.push({
      q: [raw[5 * k]!, raw[5 * k + 1]!],
      a: [
        [b11 + KNOWN_EIGENVALUE_OFFSET, b12 / Math.SQRT2],
        [b12 / Math.SQRT2, b22 + KNOWN_EIGENVALUE_OFFSET],
      ],
    });
  }
  return { raw, keypoints, flipPairs };
}

/** Input [N,3,S,S] → a zero-weight S×S convolution → [N,1] → Gemm with zero weight and bias `raw` → [N,5K]. */
export function buildKnownModel(raw: Float32Array): Buffer {
  const S = KNOWN_INPUT_SIZE;
  const g = new OnnxGraphBuilder({ name: 'known-constant', docString: 'constant outputs' });
  g.addInput('input', ['N', 3, S, S]);
  const pooled = g.op('Conv', ['input', g.addInitializer('zero.conv', new Float32Array(3 * S * S), [1, 3, S, S])], {
    kernel_shape: [S, S],
  });
  const flat = g.op('Flatten', [pooled], { axis: 1 });
  g.op(
    'Gemm',
    [
      flat,
      g.addInitializer('zero.head', new Float32Array(raw.length), [1, raw.length]),
      g.addInitializer('head.bias', raw, [raw.length]),
    ],
    undefined,
    'output',
  );
  g.addOutput('output', ['N', raw.length]);
  return g.toBuffer();
}

export function knownManifest(name: string, model: KnownModel): ModelManifestJson {
  return {
    name,
    version: '3',
    description: 'Test fixture: constant raw outputs, so every served distribution is known in closed form.',
    trained: false,
    file: 'model.onnx',
    input: { name: 'input', size: KNOWN_INPUT_SIZE, mean: [0, 0, 0], std: [1, 1, 1] },
    output: { name: 'output' },
    crop: { scale: 1.0, padding: 'constant' },
    distribution: { delta: 1.0, theta: 1.0, eigenvalueOffset: KNOWN_EIGENVALUE_OFFSET, parameterization: 'mu' },
    keypoints: model.keypoints.map((_, k) => ({
      name: `point_${k}`,
      mean: [0, 0],
      whitening: [
        [1, 0],
        [0, 1],
      ],
    })),
    flipPairs: model.flipPairs,
  };
}
