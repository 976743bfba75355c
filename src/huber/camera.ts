/**
 * Calibrated cameras (docs/spec.md §9): a 3×4 projection matrix, or OpenCV's pinhole model x_c = R·X + t,
 * perspective division, [k1, k2, p1, p2, k3] distortion, then K. Observations are in distorted pixels,
 * so projection includes the distortion and nothing is undistorted except the DLT's starting guess.
 */

import { EvidenceError } from './fusion-errors.js';

export interface CameraIntrinsics {
  matrix: number[][];
  rotation: number[] | number[][];
  translation: number[];
  /** [k1, k2, p1, p2] or [k1, k2, p1, p2, k3]. */
  distortions?: number[];
  size?: [number, number];
}

export interface Camera {
  readonly name: string;
  /** The optical center in world coordinates. */
  readonly center: Float64Array;
  /** The undistorted linear camera, 3×4 row-major, in the same pixel units (K·[R | t] or P). */
  readonly linear: Float64Array;
  project(X: ArrayLike<number>): Float64Array;
  /** The distorted pixel and its 2×3 row-major Jacobian with respect to X. */
  projectWithJacobian(X: ArrayLike<number>): { point: Float64Array; jacobian: Float64Array };
  /**
   * projectWithJacobian into the caller's buffers (point: 2, jacobian: 2×3 or null to skip it), for solvers
   * that project thousands of times per point and would otherwise spend their time allocating.
   */
  projectInto(X: ArrayLike<number>, point: Float64Array, jacobian: Float64Array | null): void;
  /** Signed depth along the optical axis: positive in front of the camera. */
  depth(X: ArrayLike<number>): number;
  /** The pixel of the linear camera seeing the same ray as a distorted pixel (for the DLT start). */
  undistort(pixel: ArrayLike<number>): Float64Array;
}

function finiteMatrix(value: unknown, rows: number, columns: number, path: string): Float64Array {
  if (!Array.isArray(value) || value.length !== rows)
    throw new EvidenceError(`${path} must be a ${rows}×${columns} matrix`, path);
  const out = new Float64Array(rows * columns);
  value.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== columns)
      throw new EvidenceError(`${path} must be a ${rows}×${columns} matrix`, `${path}[${i}]`);
    row.forEach((v: unknown, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new EvidenceError(`${path}[${i}][${j}] must be a finite number`, `${path}[${i}][${j}]`);
      out[i * columns + j] = v;
    });
  });
  return out;
}

function finiteVector(value: unknown, lengths: readonly number[], path: string): Float64Array {
  if (!Array.isArray(value) || !lengths.includes(value.length)) {
    throw new EvidenceError(`${path} must hold ${lengths.join(' or ')} numbers`, path);
  }
  return Float64Array.from(value, (v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new EvidenceError(`${path}[${i}] must be a finite number`, `${path}[${i}]`);
    return v;
  });
}

/** R = exp([ω]×) by Rodrigues' formula, with the series near ω = 0 where θ divides by itself. */
export function rodrigues(rotationVector: ArrayLike<number>): Float64Array {
  const [x, y, z] = [rotationVector[0], rotationVector[1], rotationVector[2]];
  const theta2 = x * x + y * y + z * z;
  const theta = Math.sqrt(theta2);
  const a = theta < 1e-6 ? 1 - theta2 / 6 : Math.sin(theta) / theta;
  const b = theta < 1e-6 ? 0.5 - theta2 / 24 : (1 - Math.cos(theta)) / theta2;
  return Float64Array.from([
    1 - b * (y * y + z * z),
    -a * z + b * x * y,
    a * y + b * x * z,
    a * z + b * x * y,
    1 - b * (x * x + z * z),
    -a * x + b * y * z,
    -a * y + b * x * z,
    a * x + b * y * z,
    1 - b * (x * x + y * y),
  ]);
}

function determinant3(m: ArrayLike<number>, stride = 3): number {
  const at = (i: number, j: number): number => m[i * stride + j];
  return (
    at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) -
    at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0)) +
    at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0))
  );
}

/** Solves the 3×3 system M·x = b (M given with a row stride) by Cramer's rule; M is tiny and well scaled. */
function solve3(m: ArrayLike<number>, b: ArrayLike<number>, stride = 3): Float64Array {
  const det = determinant3(m, stride);
  const out = new Float64Array(3);
  for (let k = 0; k < 3; k++) {
    const replaced = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) replaced[i * 3 + j] = j === k ? b[i] : m[i * stride + j];
    out[k] = determinant3(replaced) / det;
  }
  return out;
}

/** Every camera's project and projectWithJacobian: its projectInto with fresh buffers. */
const allocatingProjections = {
  project(this: Camera, X: ArrayLike<number>): Float64Array {
    const point = new Float64Array(2);
    this.projectInto(X, point, null);
    return point;
  },
  projectWithJacobian(this: Camera, X: ArrayLike<number>): { point: Float64Array; jacobian: Float64Array } {
    const point = new Float64Array(2);
    const jacobian = new Float64Array(6);
    this.projectInto(X, point, jacobian);
    return { point, jacobian };
  },
};

/** A camera that is a 3×4 matrix P: x = P·[X; 1], pixel = (x₀/x₂, x₁/x₂). */
export function cameraFromProjection(name: string, projection: number[][]): Camera {
  const p = finiteMatrix(projection, 3, 4, 'projection');
  const m = new Float64Array([p[0], p[1], p[2], p[4], p[5], p[6], p[8], p[9], p[10]]);
  const det = determinant3(m);
  if (!(Math.abs(det) > 0))
    throw new EvidenceError(`camera ${name}: the left 3×3 block of its projection is singular`, 'projection');
  const center = solve3(m, [-p[3], -p[7], -p[11]]);
  // Hartley & Zisserman §6.2.3: depth = sign(det M)·w/‖m³‖ for the homogeneous w = P₃·[X; 1].
  const depthScale = Math.sign(det) / Math.hypot(p[8], p[9], p[10]);
  const homogeneous = (X: ArrayLike<number>): [number, number, number] => [
    p[0] * X[0] + p[1] * X[1] + p[2] * X[2] + p[3],
    p[4] * X[0] + p[5] * X[1] + p[6] * X[2] + p[7],
    p[8] * X[0] + p[9] * X[1] + p[10] * X[2] + p[11],
  ];
  return {
    name,
    center,
    linear: p,
    ...allocatingProjections,
    projectInto(X, point, jacobian) {
      const x0 = X[0];
      const x1 = X[1];
      const x2 = X[2];
      const u = p[0] * x0 + p[1] * x1 + p[2] * x2 + p[3];
      const v = p[4] * x0 + p[5] * x1 + p[6] * x2 + p[7];
      const w = p[8] * x0 + p[9] * x1 + p[10] * x2 + p[11];
      const pu = u / w;
      const pv = v / w;
      point[0] = pu;
      point[1] = pv;
      if (jacobian === null) return;
      for (let j = 0; j < 3; j++) {
        jacobian[j] = (p[j] - pu * p[8 + j]) / w;
        jacobian[3 + j] = (p[4 + j] - pv * p[8 + j]) / w;
      }
    },
    depth(X) {
      return depthScale * homogeneous(X)[2];
    },
    undistort(pixel) {
      return Float64Array.from([pixel[0], pixel[1]]);
    },
  };
}

/** OpenCV's pinhole camera with distortion. */
export function cameraFromIntrinsics(name: string, intrinsics: CameraIntrinsics): Camera {
  if (intrinsics === null || typeof intrinsics !== 'object')
    throw new EvidenceError(`camera ${name} must be an object`, 'camera');
  const k = finiteMatrix(intrinsics.matrix, 3, 3, 'matrix');
  if (k[6] !== 0 || k[7] !== 0 || k[8] !== 1 || !(k[0] !== 0 && k[4] !== 0)) {
    throw new EvidenceError(
      `camera ${name}: matrix must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] with non-zero focal lengths`,
      'matrix',
    );
  }
  let r: Float64Array;
  if (Array.isArray(intrinsics.rotation) && intrinsics.rotation.length === 3 && Array.isArray(intrinsics.rotation[0])) {
    r = finiteMatrix(intrinsics.rotation, 3, 3, 'rotation');
    let error = Math.abs(determinant3(r) - 1);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let dot = 0;
        for (let l = 0; l < 3; l++) dot += r[i * 3 + l] * r[j * 3 + l];
        error = Math.max(error, Math.abs(dot - (i === j ? 1 : 0)));
      }
    }
    if (error > 1e-6)
      throw new EvidenceError(`camera ${name}: rotation must be a rotation matrix (RRᵀ = I, det 1); off by ${error}`, 'rotation');
  } else {
    r = rodrigues(finiteVector(intrinsics.rotation, [3], 'rotation'));
  }
  const t = finiteVector(intrinsics.translation, [3], 'translation');
  const distortion = new Float64Array(5);
  if (intrinsics.distortions !== undefined) distortion.set(finiteVector(intrinsics.distortions, [4, 5], 'distortions'));
  const [k1, k2, p1, p2, k3] = distortion;
  const [fx, skew, cx, , fy, cy] = k;
  // C = −Rᵀt.
  const center = new Float64Array(3);
  for (let i = 0; i < 3; i++) center[i] = -(r[i] * t[0] + r[3 + i] * t[1] + r[6 + i] * t[2]);
  const linear = new Float64Array(12);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) linear[i * 4 + j] = k[i * 3] * r[j] + k[i * 3 + 1] * r[3 + j] + k[i * 3 + 2] * r[6 + j];
    linear[i * 4 + 3] = k[i * 3] * t[0] + k[i * 3 + 1] * t[1] + k[i * 3 + 2] * t[2];
  }
  const toCamera = (X: ArrayLike<number>): [number, number, number] => [
    r[0] * X[0] + r[1] * X[1] + r[2] * X[2] + t[0],
    r[3] * X[0] + r[4] * X[1] + r[5] * X[2] + t[1],
    r[6] * X[0] + r[7] * X[1] + r[8] * X[2] + t[2],
  ];
  const distort = (x: number, y: number): [number, number] => {
    const r2 = x * x + y * y;
    const radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
    return [x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y];
  };
  return {
    name,
    center,
    linear,
    ...allocatingProjections,
    projectInto(X, point, jacobian) {
      const x0 = X[0];
      const x1 = X[1];
      const x2 = X[2];
      const xc = r[0] * x0 + r[1] * x1 + r[2] * x2 + t[0];
      const yc = r[3] * x0 + r[4] * x1 + r[5] * x2 + t[1];
      const zc = r[6] * x0 + r[7] * x1 + r[8] * x2 + t[2];
      const x = xc / zc;
      const y = yc / zc;
      const r2 = x * x + y * y;
      const radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
      const xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
      const yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
      point[0] = fx * xd + skew * yd + cx;
      point[1] = fy * yd + cy;
      if (jacobian === null) return;
      const radialSlope = k1 + r2 * (2 * k2 + 3 * k3 * r2);
      const dxx = radial + 2 * radialSlope * x * x + 2 * p1 * y + 6 * p2 * x;
      const dxy = 2 * radialSlope * x * y + 2 * p1 * x + 2 * p2 * y;
      const dyy = radial + 2 * radialSlope * y * y + 6 * p1 * y + 2 * p2 * x;
      const a0 = (fx * dxx + skew * dxy) / zc;
      const b0 = (fx * dxy + skew * dyy) / zc;
      const c0 = -(a0 * x + b0 * y);
      const a1 = (fy * dxy) / zc;
      const b1 = (fy * dyy) / zc;
      const c1 = -(a1 * x + b1 * y);
      for (let j = 0; j < 3; j++) {
        jacobian[j] = a0 * r[j] + b0 * r[3 + j] + c0 * r[6 + j];
        jacobian[3 + j] = a1 * r[j] + b1 * r[3 + j] + c1 * r[6 + j];
      }
    },
    depth(X) {
      return toCamera(X)[2];
    },
    undistort(pixel) {
      const yd = (pixel[1] - cy) / fy;
      const xd = (pixel[0] - cx - skew * yd) / fx;
      // OpenCV's fixed-point undistortion, followed by Newton steps on distort(x, y) = (xd, yd), which
      // converge where the fixed point creeps (strong barrel distortion near the corners).
      let x = xd;
      let y = yd;
      for (let i = 0; i < 20; i++) {
        const r2 = x * x + y * y;
        const radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
        const radialSlope = k1 + r2 * (2 * k2 + 3 * k3 * r2);
        const [fx0, fy0] = distort(x, y);
        const ex = fx0 - xd;
        const ey = fy0 - yd;
        const a = radial + 2 * radialSlope * x * x + 2 * p1 * y + 6 * p2 * x;
        const b = 2 * radialSlope * x * y + 2 * p1 * x + 2 * p2 * y;
        const d = radial + 2 * radialSlope * y * y + 6 * p1 * y + 2 * p2 * x;
        const det = a * d - b * b;
        if (!(Math.abs(det) > 1e-12)) break;
        const stepX = (d * ex - b * ey) / det;
        const stepY = (a * ey - b * ex) / det;
        x -= stepX;
        y -= stepY;
        if (Math.abs(stepX) + Math.abs(stepY) < 1e-15) break;
      }
      return Float64Array.from([fx * x + skew * y + cx, fy * y + cy]);
    },
  };
}
