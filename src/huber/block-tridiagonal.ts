/**
 * Symmetric block-tridiagonal systems: n diagonal blocks D_i and n − 1 upper blocks U_i = M[i, i+1],
 * each m×m row-major, stored back to back. Block elimination from the first block on costs O(n·m³),
 * which is what keeps a track's smoothing linear in its length. The Schur complements
 *   S_0 = D_0,  S_i = D_i − U_{i−1}ᵀ S_{i−1}⁻¹ U_{i−1}
 * are the forward (information-filter) pass; the diagonal of the inverse follows from them by the
 * backward Rauch–Tung–Striebel recursion  C_{n−1} = S_{n−1}⁻¹,  C_i = S_i⁻¹ + G_i C_{i+1} G_iᵀ  with
 * G_i = S_i⁻¹ U_i, so the marginal covariances never need the dense inverse.
 */

export interface BlockTridiagonalFactor {
  readonly blocks: number;
  readonly size: number;
  /** Lower Cholesky factor of each Schur complement S_i. */
  readonly cholesky: Float64Array;
  /** G_i = S_i⁻¹ U_i for i < n − 1. */
  readonly gain: Float64Array;
}

/**
 * Cholesky of the m×m block at `sourceAt` of `source` (only its lower triangle is read) into `target` at
 * `targetAt`; false when a pivot is not above `relativeFloor` times its diagonal entry, which is how a
 * matrix that is not (numerically) positive definite shows.
 */
function choleskyBlock(
  source: Float64Array,
  sourceAt: number,
  target: Float64Array,
  targetAt: number,
  m: number,
  relativeFloor: number,
): boolean {
  for (let j = 0; j < m; j++) {
    const original = source[sourceAt + j * m + j];
    let pivot = original;
    for (let k = 0; k < j; k++) pivot -= target[targetAt + j * m + k] * target[targetAt + j * m + k];
    if (!(pivot > relativeFloor * Math.abs(original)) || !Number.isFinite(pivot)) return false;
    const root = Math.sqrt(pivot);
    target[targetAt + j * m + j] = root;
    for (let i = j + 1; i < m; i++) {
      let sum = source[sourceAt + i * m + j];
      for (let k = 0; k < j; k++) sum -= target[targetAt + i * m + k] * target[targetAt + j * m + k];
      target[targetAt + i * m + j] = sum / root;
    }
  }
  return true;
}

/** Solves L·Lᵀ·x = b in place on the m-vector at `at` of `vector` (stride between its entries). */
function choleskySolveInPlace(
  l: Float64Array,
  lOffset: number,
  m: number,
  vector: Float64Array,
  at: number,
  stride: number,
): void {
  for (let i = 0; i < m; i++) {
    let sum = vector[at + i * stride];
    for (let k = 0; k < i; k++) sum -= l[lOffset + i * m + k] * vector[at + k * stride];
    vector[at + i * stride] = sum / l[lOffset + i * m + i];
  }
  for (let i = m - 1; i >= 0; i--) {
    let sum = vector[at + i * stride];
    for (let k = i + 1; k < m; k++) sum -= l[lOffset + k * m + i] * vector[at + k * stride];
    vector[at + i * stride] = sum / l[lOffset + i * m + i];
  }
}

/**
 * Factors the matrix, or returns null when it is not positive definite (a Schur complement's pivot
 * falls to `relativeFloor` of its diagonal entry): the robust smoother then falls back to a step whose
 * matrix is known to be positive definite.
 */
export function factorBlockTridiagonal(
  diagonal: Float64Array,
  upper: Float64Array,
  blocks: number,
  size: number,
  relativeFloor = 1e-12,
): BlockTridiagonalFactor | null {
  const m = size;
  const mm = m * m;
  const cholesky = new Float64Array(blocks * mm);
  const gain = new Float64Array(Math.max(0, blocks - 1) * mm);
  // One block's Schur complement at a time; only its lower triangle is formed, the half Cholesky reads.
  const schur = new Float64Array(mm);
  for (let i = 0; i < blocks; i++) {
    const at = i * mm;
    if (i === 0) schur.set(diagonal.subarray(0, mm));
    else {
      const prev = at - mm;
      // S_i = D_i − U_{i−1}ᵀ G_{i−1}
      for (let r = 0; r < m; r++) {
        for (let c = 0; c <= r; c++) {
          let sum = diagonal[at + r * m + c];
          for (let k = 0; k < m; k++) sum -= upper[prev + k * m + r] * gain[prev + k * m + c];
          schur[r * m + c] = sum;
        }
      }
    }
    if (!choleskyBlock(schur, 0, cholesky, at, m, relativeFloor)) return null;
    if (i < blocks - 1) {
      for (let k = 0; k < mm; k++) gain[at + k] = upper[at + k];
      for (let c = 0; c < m; c++) choleskySolveInPlace(cholesky, at, m, gain, at + c, m);
    }
  }
  return { blocks, size, cholesky, gain };
}

/** x with M·x = b, for b of length n·m. */
export function solveBlockTridiagonal(factor: BlockTridiagonalFactor, rhs: ArrayLike<number>): Float64Array {
  const { blocks, size: m, cholesky, gain } = factor;
  const mm = m * m;
  const x = Float64Array.from(rhs);
  const reduced = new Float64Array(m);
  for (let i = 0; i < blocks; i++) {
    if (i > 0) {
      // y_i = b_i − G_{i−1}ᵀ y_{i−1}, with y_{i−1} still stored before its own solve below.
      const prev = (i - 1) * mm;
      for (let r = 0; r < m; r++) {
        let sum = 0;
        for (let k = 0; k < m; k++) sum += gain[prev + k * m + r] * reduced[k];
        x[i * m + r] -= sum;
      }
    }
    for (let r = 0; r < m; r++) reduced[r] = x[i * m + r];
    choleskySolveInPlace(cholesky, i * mm, m, x, i * m, 1);
  }
  // Now x_i holds S_i⁻¹ y_i; back substitution x_i −= G_i x_{i+1}.
  for (let i = blocks - 2; i >= 0; i--) {
    const at = i * mm;
    for (let r = 0; r < m; r++) {
      let sum = 0;
      for (let k = 0; k < m; k++) sum += gain[at + r * m + k] * x[(i + 1) * m + k];
      x[i * m + r] -= sum;
    }
  }
  return x;
}

/** The diagonal blocks of M⁻¹ (each m×m, back to back): the marginal covariances when M is an information matrix. */
export function inverseDiagonalBlocks(factor: BlockTridiagonalFactor): Float64Array {
  const { blocks, size: m, cholesky, gain } = factor;
  const mm = m * m;
  const out = new Float64Array(blocks * mm);
  const column = new Float64Array(m);
  const product = new Float64Array(mm);
  for (let i = blocks - 1; i >= 0; i--) {
    const at = i * mm;
    // S_i⁻¹ column by column.
    for (let c = 0; c < m; c++) {
      column.fill(0);
      column[c] = 1;
      choleskySolveInPlace(cholesky, at, m, column, 0, 1);
      for (let r = 0; r < m; r++) out[at + r * m + c] = column[r];
    }
    if (i < blocks - 1) {
      const next = (i + 1) * mm;
      for (let r = 0; r < m; r++) {
        for (let c = 0; c < m; c++) {
          let sum = 0;
          for (let k = 0; k < m; k++) sum += gain[at + r * m + k] * out[next + k * m + c];
          product[r * m + c] = sum;
        }
      }
      for (let r = 0; r < m; r++) {
        for (let c = 0; c < m; c++) {
          let sum = 0;
          for (let k = 0; k < m; k++) sum += product[r * m + k] * gain[at + c * m + k];
          out[at + r * m + c] += sum;
        }
      }
    }
    for (let r = 0; r < m; r++) {
      for (let c = r + 1; c < m; c++) {
        const mean = 0.5 * (out[at + r * m + c] + out[at + c * m + r]);
        out[at + r * m + c] = mean;
        out[at + c * m + r] = mean;
      }
    }
  }
  return out;
}
