/**
 * docs/spec.md §12's deviation numbers from first principles (§2 decode by the rotation angle of B,
 * §3 de-normalization by the adjugate of H, §1 NLL), sharing no code with src/huber or tools/variants.
 */
import { referenceKappa, referenceLoss } from '../../helpers/huber-reference.js';

type Mat2 = readonly [readonly [number, number], readonly [number, number]];

export interface ReferenceManifest {
  distribution: { delta: number; theta: number; eigenvalueOffset: number; parameterization: 'nu' | 'mu' };
  keypoints: readonly { mean?: readonly [number, number] | undefined; whitening?: Mat2 | undefined }[];
}

interface InputSpaceKeypoint {
  mean: [number, number];
  /** Λ in input pixels, [xx, xy, yy]. */
  precision: [number, number, number];
}

function keypointInInputPixels(raw: ArrayLike<number>, base: number, manifest: ReferenceManifest, k: number): InputSpaceKeypoint {
  const { theta, eigenvalueOffset, parameterization } = manifest.distribution;
  const [nx, ny, b11, b12raw, b22] = [raw[base]!, raw[base + 1]!, raw[base + 2]!, raw[base + 3]!, raw[base + 4]!];
  const b12 = b12raw / Math.SQRT2;
  const phi = 0.5 * Math.atan2(2 * b12, b11 - b22);
  const c = Math.cos(phi);
  const s = Math.sin(phi);
  const lambda1 = b11 * c * c + 2 * b12 * c * s + b22 * s * s;
  const lambda2 = b11 * s * s - 2 * b12 * c * s + b22 * c * c;
  const remap = (lambda: number) => {
    const u = lambda + eigenvalueOffset;
    return u >= theta ? u : theta * Math.exp(u / theta - 1);
  };
  const g1 = remap(lambda1);
  const g2 = remap(lambda2);
  // A = g1 v1v1ᵀ + g2 v2v2ᵀ with v1 = (c, s), v2 = (−s, c).
  const apply = (f1: number, f2: number, x: number, y: number): [number, number] => {
    const along1 = c * x + s * y;
    const along2 = -s * x + c * y;
    return [f1 * along1 * c - f2 * along2 * s, f1 * along1 * s + f2 * along2 * c];
  };
  const normalizedMean = parameterization === 'nu' ? apply(1 / g1, 1 / g2, nx, ny) : [nx, ny];
  const l11 = g1 * g1 * c * c + g2 * g2 * s * s;
  const l12 = (g1 * g1 - g2 * g2) * c * s;
  const l22 = g1 * g1 * s * s + g2 * g2 * c * c;
  const spec = manifest.keypoints[k]!;
  const h = spec.whitening ?? [
    [1, 0],
    [0, 1],
  ];
  const m = spec.mean ?? [0, 0];
  const det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
  const mean: [number, number] = [
    (h[1][1] * normalizedMean[0]! - h[0][1] * normalizedMean[1]!) / det + m[0],
    (-h[1][0] * normalizedMean[0]! + h[0][0] * normalizedMean[1]!) / det + m[1],
  ];
  // Λ_q = Hᵀ Λₙ H.
  const t11 = l11 * h[0][0] + l12 * h[1][0];
  const t12 = l11 * h[0][1] + l12 * h[1][1];
  const t21 = l12 * h[0][0] + l22 * h[1][0];
  const t22 = l12 * h[0][1] + l22 * h[1][1];
  return {
    mean,
    precision: [h[0][0] * t11 + h[1][0] * t21, h[0][0] * t12 + h[1][0] * t22, h[0][1] * t12 + h[1][1] * t22],
  };
}

export interface ReferenceDeviation {
  maxPositionPx: number;
  meanPositionPx: number;
  maxRmseRelative: number;
  meanNllDelta: number;
}

export function referenceDeviation(
  manifest: ReferenceManifest,
  parent: ArrayLike<number>,
  variant: ArrayLike<number>,
  crops: number,
): ReferenceDeviation {
  const kappa = referenceKappa(2, manifest.distribution.delta);
  const delta = manifest.distribution.delta;
  const count = manifest.keypoints.length;
  const rmse = (p: [number, number, number]) => Math.sqrt((kappa * (p[0] + p[2])) / (p[0] * p[2] - p[1] * p[1]));
  let maxPosition = 0;
  let sumPosition = 0;
  let maxRmse = 0;
  let sumNll = 0;
  for (let crop = 0; crop < crops; crop++) {
    for (let k = 0; k < count; k++) {
      const base = (crop * count + k) * 5;
      const p = keypointInInputPixels(parent, base, manifest, k);
      const v = keypointInInputPixels(variant, base, manifest, k);
      const dx = p.mean[0] - v.mean[0];
      const dy = p.mean[1] - v.mean[1];
      const position = Math.sqrt(dx * dx + dy * dy);
      maxPosition = Math.max(maxPosition, position);
      sumPosition += position;
      maxRmse = Math.max(maxRmse, Math.abs(rmse(v.precision) / rmse(p.precision) - 1));
      const logDet = (q: [number, number, number]) => Math.log(q[0] * q[2] - q[1] * q[1]);
      const r = Math.sqrt(v.precision[0] * dx * dx + 2 * v.precision[1] * dx * dy + v.precision[2] * dy * dy);
      // The log c_d(δ) terms of both NLLs cancel.
      sumNll += -0.5 * logDet(v.precision) + referenceLoss(r, delta) + 0.5 * logDet(p.precision);
    }
  }
  return {
    maxPositionPx: maxPosition,
    meanPositionPx: sumPosition / (crops * count),
    maxRmseRelative: maxRmse,
    meanNllDelta: sumNll / (crops * count),
  };
}
