/**
 * The service hot path for 2-D keypoints: decode every view (docs/spec.md §2), de-normalize per slot and map to
 * image coordinates (docs/spec.md §3), permute, fuse (docs/spec.md §4) and describe (docs/spec.md §5).
 */

import { assertParams, PLANAR_DECODED_STRIDE, decodePlanarInto, PLANAR_OUTPUTS_PER_KEYPOINT } from './decode.js';
import { ellipseFromCovariance } from './describe.js';
import { assertMaxIterations, assertTolerance, DEFAULT_FUSION_MAX_ITERATIONS, DEFAULT_FUSION_TOLERANCE } from './fusion.js';
import { assertLevel, cachedRadialQuantile, huberConstants } from './radial.js';
import type {
  PlanarAffine,
  DistributionParams,
  KeypointNormalization,
  FusedKeypoint,
  ViewFusionOptions,
  ViewFusionResult,
  PlanarView,
  PlanarViewKeypoint,
} from './types.js';

// Per view and keypoint, in image coordinates: μx, μy, Λxx, Λxy, Λyy, Σxx, Σxy, Σyy.
const STRIDE = PLANAR_DECODED_STRIDE;
// Per keypoint: H⁻¹ (row-major) then H (row-major) then m.
const NORM_STRIDE = 10;
const MAX_EXTRAPOLATION = 2 ** 40;
const MAX_HALVINGS = 30;

// Reused across calls: the function is synchronous, so no two calls can share them at once.
let viewScratch: Float64Array = new Float64Array(0);
let normScratch: Float64Array = new Float64Array(0);
const decoded = new Float64Array(STRIDE);

// Array.isArray would narrow a readonly typed parameter to any[]; the check is for untyped callers.
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}

function describeValue(value: unknown): string {
  return value === null || typeof value !== 'object' ? String(value) : `a ${value.constructor?.name ?? 'object'}`;
}

function scratch(current: Float64Array, size: number): Float64Array {
  return current.length >= size ? current : new Float64Array(Math.max(size, 2 * current.length));
}

function finite2x2(m: ArrayLike<number>, name: string): void {
  for (let i = 0; i < 4; i++) if (!Number.isFinite(m[i])) throw new RangeError(`${name}[${i}] must be finite, got ${m[i]}`);
  const det = m[0] * m[3] - m[1] * m[2];
  if (!(Math.abs(det) > 0) || !Number.isFinite(det))
    throw new RangeError(`${name} must be invertible, its determinant is ${det}`);
}

function assertOptions(options: ViewFusionOptions): { tolerance: number; maxIterations: number } {
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${options}`);
  if (options.fusion !== 'ml' && options.fusion !== 'mean') {
    throw new TypeError(`options.fusion must be 'ml' or 'mean', got ${String(options.fusion)}`);
  }
  assertLevel(options.level, 'options.level');
  if (typeof options.includeViews !== 'boolean') {
    throw new TypeError(`options.includeViews must be a boolean, got ${String(options.includeViews)}`);
  }
  const tolerance = options.tolerance ?? DEFAULT_FUSION_TOLERANCE;
  const maxIterations = options.maxIterations ?? DEFAULT_FUSION_MAX_ITERATIONS;
  assertTolerance(tolerance);
  assertMaxIterations(maxIterations);
  return { tolerance, maxIterations };
}

function loadNormalization(normalization: readonly KeypointNormalization[], out: Float64Array): void {
  for (let k = 0; k < normalization.length; k++) {
    const entry = normalization[k];
    if (entry === null || typeof entry !== 'object') throw new TypeError(`normalization[${k}] must be an object, got ${entry}`);
    const w = entry.whitening;
    const h = [w?.[0]?.[0], w?.[0]?.[1], w?.[1]?.[0], w?.[1]?.[1]] as number[];
    finite2x2(h, `normalization[${k}].whitening`);
    const mean = entry.mean;
    if (!Number.isFinite(mean?.[0]) || !Number.isFinite(mean?.[1])) {
      throw new RangeError(`normalization[${k}].mean must be two finite numbers, got ${JSON.stringify(mean)}`);
    }
    const inv = 1 / (h[0] * h[3] - h[1] * h[2]);
    const o = k * NORM_STRIDE;
    out[o] = h[3] * inv;
    out[o + 1] = -h[1] * inv;
    out[o + 2] = -h[2] * inv;
    out[o + 3] = h[0] * inv;
    out[o + 4] = h[0];
    out[o + 5] = h[1];
    out[o + 6] = h[2];
    out[o + 7] = h[3];
    out[o + 8] = mean[0];
    out[o + 9] = mean[1];
  }
}

function assertView(view: PlanarView, v: number, count: number): Uint8Array | null {
  if (view === null || typeof view !== 'object') throw new TypeError(`views[${v}] must be an object, got ${view}`);
  const { raw, offset } = view;
  if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number') {
    throw new TypeError(`views[${v}].raw must be an array of numbers, got ${describeValue(raw)}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + PLANAR_OUTPUTS_PER_KEYPOINT * count > raw.length) {
    throw new RangeError(
      `views[${v}].offset ${offset} with ${PLANAR_OUTPUTS_PER_KEYPOINT * count} outputs does not fit raw of length ${raw.length}`,
    );
  }
  const affine: PlanarAffine | undefined = view.inputToImage;
  finite2x2(affine?.m ?? [], `views[${v}].inputToImage.m`);
  if (!Number.isFinite(affine.t?.[0]) || !Number.isFinite(affine.t?.[1])) {
    throw new RangeError(`views[${v}].inputToImage.t must be two finite numbers, got ${JSON.stringify(affine.t)}`);
  }
  const perm = view.slotToKeypoint;
  if (perm === null) return null;
  if (typeof perm !== 'object' || perm.length !== count) {
    throw new RangeError(
      `views[${v}].slotToKeypoint must hold ${count} keypoint indices, got ${perm === null || typeof perm !== 'object' ? perm : `length ${perm.length}`}`,
    );
  }
  const seen = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const target = perm[k];
    if (!Number.isInteger(target) || target < 0 || target >= count || seen[target] === 1) {
      throw new RangeError(`views[${v}].slotToKeypoint must be a permutation of 0..${count - 1}; entry ${k} is ${target}`);
    }
    seen[target] = 1;
  }
  return seen;
}

/**
 * Σ' = T·S·Tᵀ for symmetric S = [[a, b], [b, c]] and T = [[t11, t12], [t21, t22]], written into out[o..o+3).
 */
function congruence(
  t11: number,
  t12: number,
  t21: number,
  t22: number,
  a: number,
  b: number,
  c: number,
  out: Float64Array,
  o: number,
): void {
  const r11 = t11 * a + t12 * b;
  const r12 = t11 * b + t12 * c;
  const r21 = t21 * a + t22 * b;
  const r22 = t21 * b + t22 * c;
  out[o] = r11 * t11 + r12 * t12;
  out[o + 1] = r11 * t21 + r12 * t22;
  out[o + 2] = r21 * t21 + r22 * t22;
}

/** Σᵢ h_δ(‖Aᵢ(y − μᵢ)‖) for keypoint k over the scratch layout. */
function costAt(data: Float64Array, k: number, count: number, viewCount: number, delta: number, x: number, y: number): number {
  let cost = 0;
  for (let v = 0; v < viewCount; v++) {
    const o = (v * count + k) * STRIDE;
    const dx = x - data[o];
    const dy = y - data[o + 1];
    const r = Math.sqrt(Math.max(0, dx * dx * data[o + 2] + 2 * dx * dy * data[o + 3] + dy * dy * data[o + 4]));
    cost += r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
  }
  return cost;
}

function toMatrix(xx: number, xy: number, yy: number): [[number, number], [number, number]] {
  return [
    [xx, xy],
    [xy, yy],
  ];
}

/**
 * Decode, de-normalize, map, permute, fuse and describe every keypoint of a set of views of one crop.
 * views[0] is the reference (un-mirrored) view: ML fusion starts from its mean. `views` of the result,
 * when asked for, is indexed [view][keypoint] in original keypoint order (after the permutation).
 */
export function fuseKeypointViews(
  views: readonly PlanarView[],
  normalization: readonly KeypointNormalization[],
  params: DistributionParams,
  options: ViewFusionOptions,
): ViewFusionResult {
  if (!isArray(views) || views.length === 0) {
    throw new RangeError(`views must be a non-empty array, got ${isArray(views) ? 'an empty array' : describeValue(views)}`);
  }
  if (!isArray(normalization)) throw new TypeError(`normalization must be an array, got ${describeValue(normalization)}`);
  assertParams(params);
  const { tolerance, maxIterations } = assertOptions(options);
  const count = normalization.length;
  const viewCount = views.length;
  const delta = params.delta;
  const { kappa } = huberConstants(2, delta);
  const radius = cachedRadialQuantile(2, delta, options.level);

  normScratch = scratch(normScratch, count * NORM_STRIDE);
  const norm = normScratch;
  loadNormalization(normalization, norm);
  viewScratch = scratch(viewScratch, viewCount * count * STRIDE);
  const data = viewScratch;

  for (let v = 0; v < viewCount; v++) {
    const view = views[v];
    assertView(view, v, count);
    const { raw, offset } = view;
    const [m11, m12, m21, m22] = view.inputToImage.m;
    const [tx, ty] = view.inputToImage.t;
    const mDet = 1 / (m11 * m22 - m12 * m21);
    const i11 = m22 * mDet;
    const i12 = -m12 * mDet;
    const i21 = -m21 * mDet;
    const i22 = m11 * mDet;
    const perm = view.slotToKeypoint;
    for (let k = 0; k < count; k++) {
      decodePlanarInto(raw, offset + PLANAR_OUTPUTS_PER_KEYPOINT * k, params, kappa, decoded, 0);
      const n = k * NORM_STRIDE;
      // Input pixels → image is T = M·H⁻¹ applied to y_n, plus M·m + t; precision moves by T⁻¹ = H·M⁻¹.
      const hi11 = norm[n];
      const hi12 = norm[n + 1];
      const hi21 = norm[n + 2];
      const hi22 = norm[n + 3];
      const t11 = m11 * hi11 + m12 * hi21;
      const t12 = m11 * hi12 + m12 * hi22;
      const t21 = m21 * hi11 + m22 * hi21;
      const t22 = m21 * hi12 + m22 * hi22;
      const h11 = norm[n + 4];
      const h12 = norm[n + 5];
      const h21 = norm[n + 6];
      const h22 = norm[n + 7];
      const u11 = h11 * i11 + h12 * i21;
      const u12 = h11 * i12 + h12 * i22;
      const u21 = h21 * i11 + h22 * i21;
      const u22 = h21 * i12 + h22 * i22;
      const qx = hi11 * decoded[0] + hi12 * decoded[1] + norm[n + 8];
      const qy = hi21 * decoded[0] + hi22 * decoded[1] + norm[n + 9];
      const target = perm === null ? k : perm[k];
      const o = (v * count + target) * STRIDE;
      data[o] = m11 * qx + m12 * qy + tx;
      data[o + 1] = m21 * qx + m22 * qy + ty;
      congruence(u11, u21, u12, u22, decoded[2], decoded[3], decoded[4], data, o + 2);
      congruence(t11, t12, t21, t22, decoded[5], decoded[6], decoded[7], data, o + 5);
    }
  }

  const keypoints: FusedKeypoint[] = new Array<FusedKeypoint>(count);
  for (let k = 0; k < count; k++) {
    const first = k * STRIDE;
    let x = data[first];
    let y = data[first + 1];
    let iterations = 0;
    let converged = true;
    if (viewCount > 1 && options.fusion === 'mean') {
      x = 0;
      y = 0;
      for (let v = 0; v < viewCount; v++) {
        x += data[(v * count + k) * STRIDE];
        y += data[(v * count + k) * STRIDE + 1];
      }
      x /= viewCount;
      y /= viewCount;
    } else if (viewCount > 1) {
      // Same algorithm as fuseMl (MM step; Newton step with the Triggs term, halved until it does no worse; else
      // doubling along the MM step while the cost drops), unrolled for 2×2 over the scratch layout.
      converged = false;
      while (iterations < maxIterations) {
        let s11 = 0;
        let s12 = 0;
        let s22 = 0;
        let c11 = 0;
        let c12 = 0;
        let c22 = 0;
        let bx = 0;
        let by = 0;
        for (let v = 0; v < viewCount; v++) {
          const o = (v * count + k) * STRIDE;
          const mx = data[o];
          const my = data[o + 1];
          const lxx = data[o + 2];
          const lxy = data[o + 3];
          const lyy = data[o + 4];
          const dx = x - mx;
          const dy = y - my;
          const gx = lxx * dx + lxy * dy;
          const gy = lxy * dx + lyy * dy;
          const r = Math.sqrt(Math.max(0, dx * gx + dy * gy));
          let w = 1;
          if (r > delta) {
            w = delta / r;
            const c = w / (r * r);
            c11 += c * gx * gx;
            c12 += c * gx * gy;
            c22 += c * gy * gy;
          }
          s11 += w * lxx;
          s12 += w * lxy;
          s22 += w * lyy;
          bx += w * (lxx * mx + lxy * my);
          by += w * (lxy * mx + lyy * my);
        }
        const inv = 1 / (s11 * s22 - s12 * s12);
        let nx = (s22 * bx - s12 * by) * inv;
        let ny = (s11 * by - s12 * bx) * inv;
        let best = costAt(data, k, count, viewCount, delta, nx, ny);
        let newtonTaken = false;
        const h11 = s11 - c11;
        const h12 = s12 - c12;
        const h22 = s22 - c22;
        const hDet = h11 * h22 - h12 * h12;
        if (h11 > 0 && hDet > 1e-12 * h11 * h22) {
          const ex = s11 * x + s12 * y - bx;
          const ey = s12 * x + s22 * y - by;
          const px = (h22 * ex - h12 * ey) / hDet;
          const py = (h11 * ey - h12 * ex) / hDet;
          for (let t = 1, halvings = 0; halvings <= MAX_HALVINGS; t *= 0.5, halvings++) {
            if (costAt(data, k, count, viewCount, delta, x - t * px, y - t * py) <= best) {
              nx = x - t * px;
              ny = y - t * py;
              newtonTaken = true;
              break;
            }
          }
        }
        if (!newtonTaken) {
          const ddx = nx - x;
          const ddy = ny - y;
          for (let t = 2; t <= MAX_EXTRAPOLATION; t *= 2) {
            const c = costAt(data, k, count, viewCount, delta, x + t * ddx, y + t * ddy);
            if (!(c < best)) break;
            best = c;
            nx = x + t * ddx;
            ny = y + t * ddy;
          }
        }
        const step = Math.hypot(nx - x, ny - y);
        x = nx;
        y = ny;
        iterations++;
        if (step < tolerance) {
          converged = true;
          break;
        }
      }
    }
    let cxx = data[first + 5];
    let cxy = data[first + 6];
    let cyy = data[first + 7];
    if (viewCount > 1) {
      cxx = 0;
      cxy = 0;
      cyy = 0;
      for (let v = 0; v < viewCount; v++) {
        const o = (v * count + k) * STRIDE;
        const dx = data[o] - x;
        const dy = data[o + 1] - y;
        cxx += data[o + 5] + dx * dx;
        cxy += data[o + 6] + dx * dy;
        cyy += data[o + 7] + dy * dy;
      }
      cxx /= viewCount;
      cxy /= viewCount;
      cyy /= viewCount;
    }
    keypoints[k] = {
      x,
      y,
      covariance: toMatrix(cxx, cxy, cyy),
      ellipse: ellipseFromCovariance(cxx, cxy, cyy, kappa, radius, options.level),
      rmse: Math.sqrt(cxx + cyy),
      iterations,
      converged,
    };
  }

  if (!options.includeViews) return { keypoints };
  const perView: PlanarViewKeypoint[][] = [];
  for (let v = 0; v < viewCount; v++) {
    const list: PlanarViewKeypoint[] = new Array<PlanarViewKeypoint>(count);
    for (let k = 0; k < count; k++) {
      const o = (v * count + k) * STRIDE;
      list[k] = {
        x: data[o],
        y: data[o + 1],
        covariance: toMatrix(data[o + 5], data[o + 6], data[o + 7]),
        ellipse: ellipseFromCovariance(data[o + 5], data[o + 6], data[o + 7], kappa, radius, options.level),
        rmse: Math.sqrt(data[o + 5] + data[o + 7]),
      };
    }
    perView.push(list);
  }
  return { keypoints, views: perView };
}
