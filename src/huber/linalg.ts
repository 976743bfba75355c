/** Small dense linear algebra for d ≤ 4, row-major Float64Array matrices. */

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  readonly values: Float64Array;
  /** Row-major d×d; column j is the unit eigenvector of values[j], so B·V = V·diag(values). */
  readonly vectors: Float64Array;
}

function assertSquare(matrix: ArrayLike<number>, d: number, name: string): void {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`dimension must be a positive integer, got ${d}`);
  if (matrix.length !== d * d) {
    throw new RangeError(`${name} must hold ${d * d} entries for dimension ${d}, got ${matrix.length}`);
  }
  for (let i = 0; i < d * d; i++) {
    if (!Number.isFinite(matrix[i])) throw new RangeError(`${name}[${i}] must be finite, got ${matrix[i]}`);
  }
}

/**
 * Cyclic Jacobi eigen-decomposition of a symmetric matrix (only the upper triangle is read). Jacobi is
 * chosen over QR because for d ≤ 4 it is short, unconditionally convergent and gives orthonormal
 * vectors to machine precision even for repeated eigenvalues.
 */
export function symmetricEigen(matrix: ArrayLike<number>, d: number): SymmetricEigen {
  assertSquare(matrix, d, 'matrix');
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      a[i * d + j] = matrix[i * d + j];
      a[j * d + i] = matrix[i * d + j];
    }
  }
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let scale = 0;
    for (let i = 0; i < d; i++) {
      scale = Math.max(scale, Math.abs(a[i * d + i]));
      for (let j = i + 1; j < d; j++) {
        off = Math.max(off, Math.abs(a[i * d + j]));
        scale = Math.max(scale, Math.abs(a[i * d + j]));
      }
    }
    if (off === 0 || off <= scale * 1e-17) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (apq === 0) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        // Smaller root of t² + 2θt − 1 = 0, written so that huge θ neither overflows nor cancels.
        const t = Number.isFinite(theta) ? (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.hypot(theta, 1)) : 0;
        if (t === 0) {
          a[p * d + q] = 0;
          a[q * d + p] = 0;
          continue;
        }
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        a[p * d + q] = 0;
        a[q * d + p] = 0;
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[j * d + j] - a[i * d + i]);
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((src, dst) => {
    values[dst] = a[src * d + src];
    for (let k = 0; k < d; k++) vectors[k * d + dst] = v[k * d + src];
  });
  return { values, vectors };
}

const eigenScratches: { shifted: Float64Array; factor: Float64Array; next: Float64Array }[] = [];

function eigenScratch(d: number): { shifted: Float64Array; factor: Float64Array; next: Float64Array } {
  let scratch = eigenScratches[d];
  if (scratch === undefined) {
    scratch = { shifted: new Float64Array(d * d), factor: new Float64Array(d * d), next: new Float64Array(d) };
    eigenScratches[d] = scratch;
  }
  return scratch;
}

/**
 * The unit eigenvector of the smallest eigenvalue of a symmetric positive semi-definite matrix (sign
 * arbitrary), by inverse iteration with a shift of 1e-13 of the trace: a DLT's normal matrix has its
 * smallest eigenvalue far below the next, so two or three solves reach rounding where a Jacobi sweep
 * computes all d vectors. Falls back to symmetricEigen when the gap is too small for that (the
 * iterate still moves after 12 solves) or the shifted matrix does not factor. An `initial` guess near the
 * answer (a nearby DLT's solution) saves most of the solves; any guess not orthogonal to it converges.
 */
export function smallestEigenvector(matrix: ArrayLike<number>, d: number, initial?: ArrayLike<number>): Float64Array {
  // The DLT calls this 30 times per triangulated point: the work buffers are shared, not allocated.
  const { shifted, factor, next } = eigenScratch(d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += Math.abs(matrix[i * d + i]);
  for (let i = 0; i < d * d; i++) shifted[i] = matrix[i];
  for (let i = 0; i < d; i++) shifted[i * d + i] += 1e-13 * trace;
  const vector = new Float64Array(d).fill(1 / Math.sqrt(d));
  if (initial !== undefined) {
    let norm = 0;
    for (let i = 0; i < d; i++) norm += initial[i] * initial[i];
    norm = Math.sqrt(norm);
    if (norm > 0 && Number.isFinite(norm)) for (let i = 0; i < d; i++) vector[i] = initial[i] / norm;
  }
  if (trace > 0 && Number.isFinite(trace) && tryCholeskyInto(shifted, d, 0, factor)) {
    for (let iteration = 0; iteration < 12; iteration++) {
      choleskySolveInto(factor, d, vector, next);
      let norm = 0;
      for (let i = 0; i < d; i++) norm += next[i] * next[i];
      norm = Math.sqrt(norm);
      if (!(norm > 0) || !Number.isFinite(norm)) break;
      // The sign of an inverse iterate is stable once converged, so the change is measured directly.
      let change = 0;
      for (let i = 0; i < d; i++) {
        const value = next[i] / norm;
        change = Math.max(change, Math.abs(value - vector[i]));
        vector[i] = value;
      }
      if (change <= 1e-15) return vector;
    }
  }
  const { vectors } = symmetricEigen(matrix, d);
  for (let i = 0; i < d; i++) vector[i] = vectors[i * d + d - 1];
  return vector;
}

/**
 * Closed-form eigen-decomposition of [[a, b], [b, c]] as λ₁ ≥ λ₂ and the projector P₁ = v₁v₁ᵀ onto the
 * first eigenvector. Working with P₁ (f(B) = f(λ₂)·I + (f(λ₁) − f(λ₂))·P₁) avoids trigonometry and
 * stays exact when λ₁ = λ₂, where v₁ is arbitrary but P₁'s coefficient vanishes.
 */
export interface EigenSymmetric2x2 {
  lambda1: number;
  lambda2: number;
  /** P₁ = [[p11, p12], [p12, p22]]. */
  p11: number;
  p12: number;
  p22: number;
}

export function eigenSymmetric2x2(a: number, b: number, c: number): EigenSymmetric2x2 {
  const halfDiff = 0.5 * (a - c);
  let radius = Math.sqrt(halfDiff * halfDiff + b * b);
  if (!Number.isFinite(radius)) radius = Math.hypot(halfDiff, b);
  const middle = 0.5 * a + 0.5 * c;
  const cos2 = radius > 0 ? halfDiff / radius : 1;
  const sin2 = radius > 0 ? b / radius : 0;
  return {
    lambda1: middle + radius,
    lambda2: middle - radius,
    p11: 0.5 * (1 + cos2),
    p12: 0.5 * sin2,
    p22: 0.5 * (1 - cos2),
  };
}

/** Lower Cholesky factor L with M = L·Lᵀ; throws when M is not (numerically) positive definite. */
export function cholesky(matrix: ArrayLike<number>, d: number, name = 'matrix'): Float64Array {
  assertSquare(matrix, d, name);
  const l = tryCholesky(matrix, d, 0);
  if (l === null) throw new RangeError(`${name} must be symmetric positive definite; ${describeFailure(matrix, d)}`);
  return l;
}

function describeFailure(matrix: ArrayLike<number>, d: number): string {
  const l = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let diag = matrix[j * d + j];
    for (let k = 0; k < j; k++) diag -= l[j * d + k] * l[j * d + k];
    if (!(diag > 0)) return `pivot ${j} is ${diag}`;
    l[j * d + j] = Math.sqrt(diag);
    for (let i = j + 1; i < d; i++) {
      let sum = matrix[i * d + j];
      for (let k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = sum / l[j * d + j];
    }
  }
  return 'it is not';
}

/**
 * Cholesky factor, or null when a pivot falls to `relativeFloor` times its diagonal entry or below:
 * callers that have a fallback (the Newton step of fuseMl) use this to skip near-singular systems.
 */
export function tryCholesky(matrix: ArrayLike<number>, d: number, relativeFloor: number): Float64Array | null {
  const l = new Float64Array(d * d);
  return tryCholeskyInto(matrix, d, relativeFloor, l) ? l : null;
}

/** tryCholesky into `out` (d × d), for solvers that factor thousands of times: false where it gives null. */
export function tryCholeskyInto(matrix: ArrayLike<number>, d: number, relativeFloor: number, out: Float64Array): boolean {
  out.fill(0);
  for (let j = 0; j < d; j++) {
    let diag = matrix[j * d + j];
    for (let k = 0; k < j; k++) diag -= out[j * d + k] * out[j * d + k];
    if (!(diag > relativeFloor * Math.abs(matrix[j * d + j])) || !Number.isFinite(diag)) return false;
    const ljj = Math.sqrt(diag);
    out[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let sum = matrix[i * d + j];
      for (let k = 0; k < j; k++) sum -= out[i * d + k] * out[j * d + k];
      out[i * d + j] = sum / ljj;
    }
  }
  return true;
}

/** choleskySolve into `out` (length d), which may not alias `b`. */
export function choleskySolveInto(l: ArrayLike<number>, d: number, b: ArrayLike<number>, out: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * d + k] * out[k];
    out[i] = sum / l[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let sum = out[i];
    for (let k = i + 1; k < d; k++) sum -= l[k * d + i] * out[k];
    out[i] = sum / l[i * d + i];
  }
}

/** Solves L·Lᵀ·x = b for a Cholesky factor L. */
export function choleskySolve(l: Float64Array, d: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(d);
  choleskySolveInto(l, d, b, x);
  return x;
}

/** Inverse of a symmetric positive definite matrix, symmetrized. */
export function invertSpd(matrix: ArrayLike<number>, d: number, name = 'matrix'): Float64Array {
  return inverseFromCholesky(cholesky(matrix, d, name), d);
}

/** (L·Lᵀ)⁻¹ from the Cholesky factor L, column by column, symmetrized. */
export function inverseFromCholesky(l: Float64Array, d: number): Float64Array {
  const inverse = new Float64Array(d * d);
  const unit = new Float64Array(d);
  const column = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    unit.fill(0);
    unit[j] = 1;
    choleskySolveInto(l, d, unit, column);
    for (let i = 0; i < d; i++) inverse[i * d + j] = column[i];
  }
  return symmetrize(inverse, d);
}

/** log det of a symmetric positive definite matrix, from its Cholesky factor so it never over/underflows. */
export function logDetSpd(matrix: ArrayLike<number>, d: number, name = 'matrix'): number {
  const l = cholesky(matrix, d, name);
  let sum = 0;
  for (let i = 0; i < d; i++) sum += Math.log(l[i * d + i]);
  return 2 * sum;
}

/** Inverse of a general square matrix by Gauss–Jordan elimination with partial pivoting. */
export function invertGeneral(matrix: ArrayLike<number>, d: number, name = 'matrix'): Float64Array {
  assertSquare(matrix, d, name);
  const a = Float64Array.from(matrix);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale = Math.max(scale, Math.abs(a[i]));
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(a[r * d + col]) > Math.abs(a[pivot * d + col])) pivot = r;
    const pv = a[pivot * d + col];
    if (!(Math.abs(pv) > scale * 1e-14)) throw new RangeError(`${name} must be invertible; it is singular at column ${col}`);
    if (pivot !== col) {
      for (let k = 0; k < d; k++) {
        [a[col * d + k], a[pivot * d + k]] = [a[pivot * d + k], a[col * d + k]];
        [inv[col * d + k], inv[pivot * d + k]] = [inv[pivot * d + k], inv[col * d + k]];
      }
    }
    for (let k = 0; k < d; k++) {
      a[col * d + k] /= pv;
      inv[col * d + k] /= pv;
    }
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const f = a[r * d + col];
      if (f === 0) continue;
      for (let k = 0; k < d; k++) {
        a[r * d + k] -= f * a[col * d + k];
        inv[r * d + k] -= f * inv[col * d + k];
      }
    }
  }
  return inv;
}

/** X·Y for row-major d×d matrices. */
export function multiply(x: ArrayLike<number>, y: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += x[i * d + k] * y[k * d + j];
      out[i * d + j] = sum;
    }
  }
  return out;
}

export function transpose(x: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[j * d + i] = x[i * d + j];
  return out;
}

/** (X + Xᵀ)/2 in place: products like M·Σ·Mᵀ are symmetric in exact arithmetic only. */
export function symmetrize(x: Float64Array, d: number): Float64Array {
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const m = 0.5 * (x[i * d + j] + x[j * d + i]);
      x[i * d + j] = m;
      x[j * d + i] = m;
    }
  }
  return x;
}

/** V·diag(f)·Vᵀ for eigenvectors in the columns of V. */
export function fromSpectrum(vectors: ArrayLike<number>, values: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += vectors[i * d + k] * values[k] * vectors[j * d + k];
      out[i * d + j] = sum;
      out[j * d + i] = sum;
    }
  }
  return out;
}
