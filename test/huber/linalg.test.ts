import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';

import { cholesky, eigenSymmetric2x2, invertSpd, symmetricEigen } from '../../src/huber/index.js';
import {
  choleskySolve,
  choleskySolveInto,
  multiply,
  smallestEigenvector,
  transpose,
  tryCholesky,
  tryCholeskyInto,
} from '../../src/huber/linalg.js';
import { createRng, type Rng } from '../helpers/prng.js';

function randomSymmetric(rng: Rng, d: number, scale = 1): Float64Array {
  const m = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = rng.normal() * scale;
      m[i * d + j] = v;
      m[j * d + i] = v;
    }
  }
  return m;
}

/** Q·diag(values)·Qᵀ with Q a random rotation (QR of a Gaussian matrix by Gram–Schmidt). */
function withSpectrum(rng: Rng, values: number[]): Float64Array {
  const d = values.length;
  const q = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const col = Array.from({ length: d }, () => rng.normal());
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += col[i]! * q[i * d + k]!;
      for (let i = 0; i < d; i++) col[i]! -= dot * q[i * d + k]!;
    }
    const norm = Math.hypot(...col);
    for (let i = 0; i < d; i++) q[i * d + j] = col[i]! / norm;
  }
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += q[i * d + k]! * values[k]! * q[j * d + k]!;
      out[i * d + j] = s;
    }
  }
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) out[j * d + i] = out[i * d + j]!;
  return out;
}

function checkDecomposition(b: Float64Array, d: number, message: string): void {
  const { values, vectors } = symmetricEigen(b, d);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  const bv = multiply(b, vectors, d);
  const vd = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) vd[i * d + j] = vectors[i * d + j]! * values[j]!;
  expect(bv, `${message} B·V = V·D`).toBeCloseToNested(vd, { abs: 1e-13 * Math.max(scale, 1e-300) });
  const identity = new Float64Array(d * d);
  for (let i = 0; i < d; i++) identity[i * d + i] = 1;
  expect(multiply(transpose(vectors, d), vectors, d), `${message} VᵀV = I`).toBeCloseToNested(identity, { abs: 1e-14 });
  for (let i = 1; i < d; i++) assert.ok(values[i - 1]! >= values[i]!, `${message} values descending`);
}

describe('symmetricEigen (Jacobi)', () => {
  it('satisfies B·V = V·D and VᵀV = I on seeded random matrices, d = 1..4', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 200; trial++) {
      const d = 1 + (trial % 4);
      checkDecomposition(randomSymmetric(rng, d), d, `trial ${trial}`);
    }
  });

  it('handles repeated, nearly repeated, huge and tiny spectra', () => {
    const rng = createRng(12);
    const spectra = [
      [2, 2, 2, 2],
      [5, 5, -1, -1],
      [1, 1 + 1e-12, 1 - 1e-12, 3],
      [1e30, -1e30, 1, 0],
      [1e-30, 2e-30, 3e-30],
      [0, 0],
    ];
    for (const spectrum of spectra) {
      const d = spectrum.length;
      const b = withSpectrum(rng, spectrum);
      checkDecomposition(b, d, `spectrum ${spectrum}`);
      const { values } = symmetricEigen(b, d);
      const sorted = [...spectrum].sort((x, y) => y - x);
      const scale = Math.max(...spectrum.map(Math.abs));
      expect(values, `values of ${spectrum}`).toBeCloseToNested(sorted, { abs: 1e-13 * scale + 1e-300 });
    }
  });

  it('rejects non-finite entries and wrong sizes', () => {
    assert.throws(() => symmetricEigen([1, Number.NaN, Number.NaN, 1], 2), /matrix\[1\]/);
    assert.throws(() => symmetricEigen([1, 2, 3], 2), /4 entries/);
  });
});

describe('eigenSymmetric2x2 (closed form)', () => {
  it('equals the Jacobi solver, including repeated eigenvalues', () => {
    const rng = createRng(13);
    const cases: [number, number, number][] = [
      [1, 0, 1],
      [3, 0, 3],
      [2, 1e-14, 2],
      [1e20, 3, -1e20],
      [0, 5, 0],
    ];
    for (let i = 0; i < 200; i++) cases.push([rng.normal(), rng.normal(), rng.normal()]);
    for (const [a, b, c] of cases) {
      const e = eigenSymmetric2x2(a, b, c);
      const j = symmetricEigen([a, b, b, c], 2);
      const scale = Math.max(Math.abs(a), Math.abs(b), Math.abs(c), 1e-300);
      expect(e.lambda1).toBeCloseToNested(j.values[0]!, { abs: 1e-14 * scale });
      expect(e.lambda2).toBeCloseToNested(j.values[1]!, { abs: 1e-14 * scale });
      if (e.lambda1 - e.lambda2 > 1e-8 * scale) {
        const v0 = j.vectors[0];
        const v1 = j.vectors[2];
        expect([e.p11, e.p12, e.p22]).toBeCloseToNested([v0! * v0!, v0! * v1!, v1! * v1!], { abs: 1e-12 });
      }
      // The projector form reconstructs B whatever the multiplicity.
      const rebuilt = [
        e.lambda2 + (e.lambda1 - e.lambda2) * e.p11,
        (e.lambda1 - e.lambda2) * e.p12,
        e.lambda2 + (e.lambda1 - e.lambda2) * e.p22,
      ];
      expect(rebuilt).toBeCloseToNested([a, b, c], { abs: 1e-14 * scale });
    }
  });
});

describe('cholesky and invertSpd', () => {
  it('invert random SPD matrices and reject indefinite ones', () => {
    const rng = createRng(14);
    for (let d = 1; d <= 4; d++) {
      const spd = withSpectrum(
        rng,
        Array.from({ length: d }, () => 0.1 + rng.uniform() * 10),
      );
      const inverse = invertSpd(spd, d);
      const identity = new Float64Array(d * d);
      for (let i = 0; i < d; i++) identity[i * d + i] = 1;
      expect(multiply(spd, inverse, d)).toBeCloseToNested(identity, { abs: 1e-12 });
    }
    assert.throws(() => cholesky([1, 2, 2, 1], 2), /positive definite/);
  });
});

describe('buffer-writing Cholesky (tryCholeskyInto, choleskySolveInto)', () => {
  it('equal tryCholesky and choleskySolve to the last bit, and refuse what tryCholesky refuses', () => {
    const rng = createRng(31);
    for (let trial = 0; trial < 30; trial++) {
      const d = 1 + (trial % 4);
      const a = randomSymmetric(rng, d);
      // AAᵀ is positive semi-definite; half the trials shift it down so that it is not.
      const m = multiply(a, transpose(a, d), d);
      for (let i = 0; i < d; i++) m[i * d + i] = m[i * d + i]! + (trial % 2 === 0 ? 0.1 : -2);
      const expected = tryCholesky(m, d, 1e-14);
      const out = new Float64Array(d * d).fill(Number.NaN);
      const ok = tryCholeskyInto(m, d, 1e-14, out);
      assert.equal(ok, expected !== null);
      if (expected === null) continue;
      assert.deepEqual(Array.from(out), Array.from(expected));
      const b = Array.from({ length: d }, () => rng.normal());
      const x = new Float64Array(d);
      choleskySolveInto(out, d, b, x);
      assert.deepEqual(Array.from(x), Array.from(choleskySolve(expected, d, b)));
      // And it solves the system, checked by multiplying back.
      for (let i = 0; i < d; i++) {
        let sum = 0;
        for (let j = 0; j < d; j++) sum += m[i * d + j]! * x[j]!;
        expect(sum).toBeCloseToNested(b[i]!, { abs: 1e-9 * (1 + Math.abs(b[i]!)) });
      }
    }
  });
});

describe('smallestEigenvector (inverse iteration)', () => {
  const unitResidual = (m: Float64Array, v: Float64Array, d: number): number => {
    // ‖Mv − (vᵀMv)v‖ relative to ‖M‖: zero exactly for an eigenvector.
    const mv = new Float64Array(d);
    let rayleigh = 0;
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += m[i * d + j]! * v[j]!;
      mv[i] = sum;
      rayleigh += v[i]! * sum;
    }
    let residual = 0;
    for (let i = 0; i < d; i++) residual += (mv[i]! - rayleigh * v[i]!) ** 2;
    return Math.sqrt(residual);
  };

  it('is the eigenvector of the smallest eigenvalue, for well separated, close and repeated spectra', () => {
    const rng = createRng(32);
    const spectra = [
      [1, 0.5, 0.2, 1e-9],
      [1, 0.3, 0.05, 0],
      [1, 0.9, 0.8, 0.79],
      [1, 1, 0.5, 0.499999],
      [2, 1, 0.5],
      [3, 1e-12],
    ];
    for (const values of spectra) {
      const d = values.length;
      for (let trial = 0; trial < 5; trial++) {
        const m = withSpectrum(rng, values);
        const v = smallestEigenvector(m, d);
        let norm = 0;
        for (let i = 0; i < d; i++) norm += v[i]! ** 2;
        expect(norm).toBeCloseToNested(1, { abs: 1e-12 });
        assert.ok(unitResidual(m, v, d) < 1e-9, `residual ${unitResidual(m, v, d)} for spectrum ${values.join(', ')}`);
        // The smallest: its Rayleigh quotient is the least eigenvalue (the reference: Jacobi).
        const reference = symmetricEigen(m, d);
        const smallest = reference.values[d - 1]!;
        const gap = reference.values[d - 2]! - smallest;
        let rayleigh = 0;
        for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) rayleigh += v[i]! * m[i * d + j]! * v[j]!;
        expect(rayleigh).toBeCloseToNested(smallest, { abs: 1e-12 });
        if (gap > 1e-3) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += v[i]! * reference.vectors[i * d + d - 1]!;
          expect(Math.abs(dot)).toBeCloseToNested(1, { abs: 1e-9 });
        }
      }
    }
  });

  it('from an initial guess, near, random or almost orthogonal to the answer, reaches the same eigenvector', () => {
    const rng = createRng(33);
    const spectra = [
      [1, 0.5, 0.2, 1e-9],
      [1, 0.3, 0.05, 0],
      [1, 0.9, 0.8, 0.79],
      [2, 1, 0.5],
    ];
    for (const values of spectra) {
      const d = values.length;
      for (let trial = 0; trial < 5; trial++) {
        const m = withSpectrum(rng, values);
        const reference = symmetricEigen(m, d);
        const column = (j: number) => Array.from({ length: d }, (_, i) => reference.vectors[i * d + j]!);
        const answer = column(d - 1);
        const second = column(d - 2);
        const guesses = [
          answer.map((v) => v + 1e-3 * rng.normal()),
          answer.map(() => rng.normal()),
          // Almost the second eigenvector: inverse iteration still turns to the smallest, or falls back.
          second.map((v, i) => 5 * v + 1e-6 * answer[i]!),
          new Array<number>(d).fill(0),
        ];
        for (const guess of guesses) {
          const v = smallestEigenvector(m, d, guess);
          let dot = 0;
          for (let i = 0; i < d; i++) dot += v[i]! * answer[i]!;
          expect(Math.abs(dot)).toBeCloseToNested(1, { abs: 1e-9 });
          assert.ok(unitResidual(m, v, d) < 1e-9);
        }
      }
    }
  });
});
