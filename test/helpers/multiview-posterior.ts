/**
 * The triangulation posterior of docs/spec.md §9 computed by brute force, independently of src/huber:
 * with each camera's projection linearized at X̂, p(X̂ + u) ∝ Π_c exp(−h_δ(‖A_c(J_c u + r_c)‖)),
 * r_c = π_c(X̂) − μ_c, integrated by the midpoint rule on a cube in the frame that whitens the
 * Gauss–Newton matrix H = Σ J_cᵀ Λ_c J_c (there the posterior is O(1) wide in every direction).
 */
import { referenceLoss } from './huber-reference.js';

export interface LinearizedFactor {
  /** ∂π_c/∂X at X̂, 2×3. */
  jacobian: number[][];
  /** π_c(X̂) − μ_c, pixels. */
  residual: [number, number];
  /** Λ_c = κ_2(δ)·Σ_c⁻¹, 2×2. */
  precision: number[][];
}

/** Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations. */
function jacobiEigen(matrix: number[][]): { values: number[]; vectors: number[][] } {
  const a = matrix.map((row) => [...row]);
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0]![1]! ** 2 + a[0]![2]! ** 2 + a[1]![2]! ** 2;
    if (off < 1e-30 * (a[0]![0]! ** 2 + a[1]![1]! ** 2 + a[2]![2]! ** 2)) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      const apq = a[p]![q]!;
      if (apq === 0) continue;
      const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k]![p]!;
        const akq = a[k]![q]!;
        a[k]![p] = c * akp - s * akq;
        a[k]![q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p]![k]!;
        const aqk = a[q]![k]!;
        a[p]![k] = c * apk - s * aqk;
        a[q]![k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k]![p]!;
        const vkq = v[k]![q]!;
        v[k]![p] = c * vkp - s * vkq;
        v[k]![q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0]![0]!, a[1]![1]!, a[2]![2]!], vectors: v };
}

/** H = Σ J_cᵀ Λ_c J_c, the Gauss–Newton (and, with every residual inside δ, Laplace) precision. */
export function gaussNewtonMatrix(factors: readonly LinearizedFactor[]): number[][] {
  const h = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (const { jacobian: j, precision: l } of factors) {
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let sum = 0;
        for (let r = 0; r < 2; r++) for (let s = 0; s < 2; s++) sum += j[r]![a]! * l[r]![s]! * j[s]![b]!;
        h[a]![b]! += sum;
      }
    }
  }
  return h;
}

/**
 * Mean offset E[u] and covariance E[(u − E u)(u − E u)ᵀ] of the linearized posterior. `halfWidth` and
 * `step` are in whitened units (the Laplace approximation's standard deviations).
 */
export function linearizedPosteriorMoments(
  factors: readonly LinearizedFactor[],
  delta: number,
  { halfWidth = 12, step = 0.2 }: { halfWidth?: number; step?: number } = {},
): { mean: number[]; covariance: number[][] } {
  const { values, vectors } = jacobiEigen(gaussNewtonMatrix(factors));
  // u = W z with W = V diag(1/√λ): H becomes the identity in z.
  const w = vectors.map((row) => row.map((entry, k) => entry / Math.sqrt(values[k]!)));
  // Each factor in z: B_c = J_c W (2×3), so that ‖A_c(J_c u + r_c)‖² = (B_c z + r_c)ᵀ Λ_c (B_c z + r_c).
  const bs = factors.map(({ jacobian }) =>
    jacobian.map((row) => [0, 1, 2].map((k) => row[0]! * w[0]![k]! + row[1]! * w[1]![k]! + row[2]! * w[2]![k]!)),
  );
  const n = Math.round((2 * halfWidth) / step);
  let mass = 0;
  const first = [0, 0, 0];
  const second = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const z = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    z[0] = -halfWidth + (i + 0.5) * step;
    for (let j = 0; j < n; j++) {
      z[1] = -halfWidth + (j + 0.5) * step;
      for (let k = 0; k < n; k++) {
        z[2] = -halfWidth + (k + 0.5) * step;
        let energy = 0;
        factors.forEach(({ residual, precision: l }, c) => {
          const b = bs[c]!;
          const e0 = b[0]![0]! * z[0]! + b[0]![1]! * z[1]! + b[0]![2]! * z[2]! + residual[0];
          const e1 = b[1]![0]! * z[0]! + b[1]![1]! * z[1]! + b[1]![2]! * z[2]! + residual[1];
          const r = Math.sqrt(l[0]![0]! * e0 * e0 + 2 * l[0]![1]! * e0 * e1 + l[1]![1]! * e1 * e1);
          energy += referenceLoss(r, delta);
        });
        const weight = Math.exp(-energy);
        mass += weight;
        for (let a = 0; a < 3; a++) {
          first[a]! += weight * z[a]!;
          for (let b = 0; b <= a; b++) second[a]![b]! += weight * z[a]! * z[b]!;
        }
      }
    }
  }
  const meanZ = first.map((value) => value / mass);
  const covZ = [0, 1, 2].map((a) =>
    [0, 1, 2].map((b) => second[Math.max(a, b)]![Math.min(a, b)]! / mass - meanZ[a]! * meanZ[b]!),
  );
  // Back to u: mean W·E[z], covariance W Cov(z) Wᵀ.
  const mean = [0, 1, 2].map((a) => w[a]![0]! * meanZ[0]! + w[a]![1]! * meanZ[1]! + w[a]![2]! * meanZ[2]!);
  const covariance = [0, 1, 2].map((a) =>
    [0, 1, 2].map((b) => {
      let sum = 0;
      for (let p = 0; p < 3; p++) for (let q = 0; q < 3; q++) sum += w[a]![p]! * covZ[p]![q]! * w[b]![q]!;
      return sum;
    }),
  );
  return { mean, covariance };
}
