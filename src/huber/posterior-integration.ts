/**
 * Moments and regions of a flat-prior posterior p(y) ∝ Πⱼ Σₖ exp(logWeightⱼₖ − h_δ(‖Mⱼₖ·y − oⱼₖ‖)) over
 * y ∈ R^d (docs/spec.md §9), by spherical–radial quadrature in a whitened frame y = c + S·z.
 *
 * Why this rule: along a ray c + ρ·S·u every residual norm is √(α + 2βρ + γρ²), so the only places where
 * the integrand is not analytic (h_δ has a jump in its second derivative at δ) are roots of a quadratic,
 * found exactly. Between them Gauss–Legendre panels converge geometrically. Over directions the ray
 * integrals are smooth periodic functions once the frame roughly whitens the posterior, so the
 * trapezoid rule in angle (d = 2) and Gauss–Legendre in cos θ × trapezoid in φ (d = 3) converge fast.
 * Working in the frame of the posterior's own mean and covariance also makes the level region
 * {zᵀz ≤ R²} a ball, whose mass is a sum of partial ray integrals.
 */

import { gaussLegendre } from './gauss-legendre.js';
import { lebedevRule } from './lebedev.js';
import { gaussianRegionRadius } from './gaussian-region.js';

export interface FactorComponent {
  /** rows × d, row-major: the whitened residual is map·y − offset (A·(y − μ) for a plain observation). */
  readonly map: ArrayLike<number>;
  readonly offset: ArrayLike<number>;
  /** log(prior·|A|) of a mixture component; ignored for a factor with a single component. */
  readonly logWeight: number;
}

/** One independent factor: a single Huber term, or a mixture of them (an observation with alternatives). */
export type PosteriorFactor = readonly FactorComponent[];

export interface QuadratureSettings {
  /** Rays: the count of angles for d = 2, the count of polar nodes for d = 3 (twice as many azimuths). */
  readonly directions: number;
  /**
   * d = 3 only: the rays are the nodes of the Lebedev rule with this many points (src/huber/lebedev.ts)
   * instead of the product rule, and `directions` is ignored.
   */
  readonly lebedevPoints?: number;
  /** Gauss–Legendre nodes per radial panel. */
  readonly radialNodes: number;
  /** Longest radial panel in whitened units. */
  readonly maxPanel: number;
  /** Rays stop where the cost has risen this far above its lowest value on the ray (e^{−40} ≈ 4e-18). */
  readonly tailCost: number;
}

/** Fine panels and many rays: the rule's error is then set by the ray count alone. */
export const ACCURATE_QUADRATURE: QuadratureSettings = { directions: 48, radialNodes: 8, maxPanel: 1, tailCost: 40 };
/** Coarse: moments within about 1e-3 of the standard deviations, enough to place a frame. */
export const FAST_QUADRATURE: QuadratureSettings = { directions: 16, radialNodes: 6, maxPanel: 2, tailCost: 30 };

export interface PosteriorFrame {
  readonly center: ArrayLike<number>;
  /** d × d row-major S with y = center + S·z; the lower Cholesky factor of a covariance whitens it. */
  readonly scale: ArrayLike<number>;
}

export interface PosteriorSummary {
  mean: Float64Array;
  covariance: Float64Array;
  /** log ∫ exp(−cost) dy, with cost the sum of the factors' costs (mixture weights included). */
  logMass: number;
  /** Per level asked, R with posterior mass `level` inside (y − mean)ᵀ covariance⁻¹ (y − mean) ≤ R². */
  radii: number[];
}

const MAX_RAY_LENGTH = 1e9;
/** A mixture term this far above the smallest adds less than half an ulp to Σ exp and is skipped. */
const NEGLIGIBLE_GAP = 40;
/** Radius (whitened units) beyond which a panel may be maxPanel·ρ/TAIL_GROWTH long. */
const TAIL_GROWTH = 3;

export class ImproperPosteriorError extends RangeError {
  constructor(readonly direction: Float64Array) {
    super('the posterior is improper: its density does not decay along some direction');
  }
}

interface Directions {
  vectors: Float64Array;
  weights: Float64Array;
  count: number;
}

const directionCache = new Map<string, Directions>();

function directionSet(d: number, n: number, lebedevPoints: number | undefined): Directions {
  const key = `${d}:${n}:${lebedevPoints ?? 0}`;
  const cached = directionCache.get(key);
  if (cached !== undefined) return cached;
  let result: Directions;
  if (d === 3 && lebedevPoints !== undefined) {
    const rule = lebedevRule(lebedevPoints);
    result = { vectors: rule.nodes, weights: rule.weights, count: rule.count };
  } else if (d === 2) {
    const vectors = new Float64Array(2 * n);
    const weights = new Float64Array(n).fill((2 * Math.PI) / n);
    for (let i = 0; i < n; i++) {
      const angle = (2 * Math.PI * (i + 0.5)) / n;
      vectors[2 * i] = Math.cos(angle);
      vectors[2 * i + 1] = Math.sin(angle);
    }
    result = { vectors, weights, count: n };
  } else if (d === 3) {
    const polar = gaussLegendre(n);
    const azimuths = 2 * n;
    const count = n * azimuths;
    const vectors = new Float64Array(3 * count);
    const weights = new Float64Array(count);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const cosTheta = polar.nodes[i];
      const sinTheta = Math.sqrt(1 - cosTheta * cosTheta);
      for (let j = 0; j < azimuths; j++) {
        const phi = (2 * Math.PI * (j + 0.5 * (i % 2))) / azimuths;
        vectors[3 * k] = sinTheta * Math.cos(phi);
        vectors[3 * k + 1] = sinTheta * Math.sin(phi);
        vectors[3 * k + 2] = cosTheta;
        weights[k] = (polar.weights[i] * 2 * Math.PI) / azimuths;
        k++;
      }
    }
    result = { vectors, weights, count };
  } else {
    throw new RangeError(`posterior integration supports d = 2 or 3, got ${d}`);
  }
  directionCache.set(key, result);
  return result;
}

interface FlatComponents {
  count: number;
  rows: Int32Array;
  /** Start of each component's rows in the row-indexed arrays. */
  rowStart: Int32Array;
  maps: Float64Array;
  /** map·center − offset per row. */
  base: Float64Array;
  logWeights: Float64Array;
  factorStart: Int32Array;
  factorCount: number;
}

function flatten(d: number, factors: readonly PosteriorFactor[], center: ArrayLike<number>): FlatComponents {
  let count = 0;
  let totalRows = 0;
  for (const factor of factors) {
    if (factor.length === 0) throw new RangeError('every factor needs at least one component');
    for (const component of factor) {
      count++;
      totalRows += component.offset.length;
    }
  }
  const rows = new Int32Array(count);
  const rowStart = new Int32Array(count + 1);
  const maps = new Float64Array(totalRows * d);
  const base = new Float64Array(totalRows);
  const logWeights = new Float64Array(count);
  const factorStart = new Int32Array(factors.length + 1);
  let c = 0;
  let row = 0;
  factors.forEach((factor, f) => {
    factorStart[f] = c;
    for (const component of factor) {
      const k = component.offset.length;
      if (component.map.length !== k * d) throw new RangeError(`a component map must be ${k} × ${d}`);
      rows[c] = k;
      rowStart[c] = row;
      logWeights[c] = factor.length === 1 ? 0 : component.logWeight;
      for (let i = 0; i < k; i++) {
        let sum = -component.offset[i];
        for (let j = 0; j < d; j++) {
          const m = component.map[i * d + j];
          maps[(row + i) * d + j] = m;
          sum += m * center[j];
        }
        base[row + i] = sum;
      }
      row += k;
      c++;
    }
  });
  rowStart[count] = row;
  factorStart[factors.length] = count;
  return { count, rows, rowStart, maps, base, logWeights, factorStart, factorCount: factors.length };
}

/** The posterior's cost along one ray at a time; a class so that the hot loop sees fixed-shape fields. */
class RayIntegrand {
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
  readonly gamma: Float64Array;
  readonly v: Float64Array;
  /** Each component's h_δ at the ρ of the last cost(ρ), so that a mixture evaluates it once. */
  readonly componentCosts: Float64Array;
  readonly componentSlopes: Float64Array;
  readonly singleFactors: boolean;
  referenceCost = 0;
  /** d cost/dρ at the ρ of the last costWithSlope. */
  costSlope = 0;

  constructor(
    readonly d: number,
    readonly delta: number,
    readonly flat: FlatComponents,
    readonly scale: ArrayLike<number>,
  ) {
    this.alpha = new Float64Array(flat.count);
    this.beta = new Float64Array(flat.count);
    this.gamma = new Float64Array(flat.count);
    this.v = new Float64Array(d);
    this.componentCosts = new Float64Array(flat.count);
    this.componentSlopes = new Float64Array(flat.count);
    this.singleFactors = flat.count === flat.factorCount;
    const { base, rowStart } = flat;
    for (let c = 0; c < flat.count; c++) {
      let a2 = 0;
      for (let row = rowStart[c]; row < rowStart[c + 1]; row++) a2 += base[row] * base[row];
      this.alpha[c] = a2;
    }
    this.referenceCost = this.cost(0);
  }

  /** Points the ray along S·u: each component's squared residual becomes α + 2βρ + γρ². */
  aim(u: ArrayLike<number>): void {
    const { d, v, scale, flat, alpha, beta, gamma } = this;
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += scale[i * d + j] * u[j];
      v[i] = sum;
    }
    const { rowStart, maps, base } = flat;
    for (let c = 0; c < flat.count; c++) {
      let a2 = 0;
      let ab = 0;
      let b2 = 0;
      for (let row = rowStart[c]; row < rowStart[c + 1]; row++) {
        let b = 0;
        for (let j = 0; j < d; j++) b += maps[row * d + j] * v[j];
        const a = base[row];
        a2 += a * a;
        ab += a * b;
        b2 += b * b;
      }
      alpha[c] = a2;
      beta[c] = ab;
      gamma[c] = b2;
    }
  }

  componentCost(c: number, rho: number): number {
    const q = this.alpha[c] + rho * (2 * this.beta[c] + rho * this.gamma[c]);
    const delta = this.delta;
    if (q <= delta * delta) return q > 0 ? 0.5 * q : 0;
    return delta * (Math.sqrt(q) - 0.5 * delta);
  }

  cost(rho: number): number {
    const { alpha, beta, gamma, delta } = this;
    const count = this.flat.count;
    const deltaSquared = delta * delta;
    const halfDelta = 0.5 * delta;
    if (this.singleFactors) {
      let total = 0;
      for (let c = 0; c < count; c++) {
        const q = alpha[c] + rho * (2 * beta[c] + rho * gamma[c]);
        total += q <= deltaSquared ? (q > 0 ? 0.5 * q : 0) : delta * (Math.sqrt(q) - halfDelta);
      }
      return total;
    }
    const costs = this.componentCosts;
    const { factorStart, logWeights, factorCount } = this.flat;
    let total = 0;
    for (let f = 0; f < factorCount; f++) {
      const first = factorStart[f];
      const end = factorStart[f + 1];
      if (end - first === 1) {
        const q = alpha[first] + rho * (2 * beta[first] + rho * gamma[first]);
        total += q <= deltaSquared ? (q > 0 ? 0.5 * q : 0) : delta * (Math.sqrt(q) - halfDelta);
        continue;
      }
      if (end - first === 2) {
        // An observation with one alternative, the common mixture: the general loop below unrolled,
        // with the same operations in the same order.
        const second = first + 1;
        const q0 = alpha[first] + rho * (2 * beta[first] + rho * gamma[first]);
        const q1 = alpha[second] + rho * (2 * beta[second] + rho * gamma[second]);
        const e0 = (q0 <= deltaSquared ? (q0 > 0 ? 0.5 * q0 : 0) : delta * (Math.sqrt(q0) - halfDelta)) - logWeights[first];
        const e1 = (q1 <= deltaSquared ? (q1 > 0 ? 0.5 * q1 : 0) : delta * (Math.sqrt(q1) - halfDelta)) - logWeights[second];
        const best = e1 < e0 ? e1 : e0;
        const gap = e1 < e0 ? e0 - e1 : e1 - e0;
        total += gap < NEGLIGIBLE_GAP ? best - Math.log1p(Math.exp(-gap)) : best;
        continue;
      }
      for (let c = first; c < end; c++) {
        const q = alpha[c] + rho * (2 * beta[c] + rho * gamma[c]);
        costs[c] = q <= deltaSquared ? (q > 0 ? 0.5 * q : 0) : delta * (Math.sqrt(q) - halfDelta);
      }
      // −log Σₖ exp(logWeightₖ − hₖ), shifted by the smallest term so that no exponential underflows.
      let best = Infinity;
      for (let c = first; c < end; c++) best = Math.min(best, costs[c] - logWeights[c]);
      // The smallest term contributes exactly 1 to Σ exp, so only the others need an exponential; one
      // e^{−40} ≈ 4e-18 below it is under half an ulp of that 1 and cannot change the sum.
      let others = 0;
      let leading = false;
      for (let c = first; c < end; c++) {
        const gap = costs[c] - logWeights[c] - best;
        if (gap === 0 && !leading) leading = true;
        else if (gap < NEGLIGIBLE_GAP) others += Math.exp(-gap);
      }
      total += others > 0 ? best - Math.log1p(others) : best;
    }
    return total;
  }

  /**
   * The cost at ρ, and into `costSlope` its derivative along the ray: each component's h_δ' is
   * (β + γρ)·min(1, δ/√q), a mixture's the responsibility-weighted sum of its components'.
   */
  costWithSlope(rho: number): number {
    const { alpha, beta, gamma, delta } = this;
    const count = this.flat.count;
    const deltaSquared = delta * delta;
    const halfDelta = 0.5 * delta;
    const costs = this.componentCosts;
    const slopes = this.componentSlopes;
    for (let c = 0; c < count; c++) {
      const half = beta[c] + rho * gamma[c];
      const q = alpha[c] + rho * (2 * beta[c] + rho * gamma[c]);
      if (q <= deltaSquared) {
        costs[c] = q > 0 ? 0.5 * q : 0;
        slopes[c] = half;
      } else {
        const root = Math.sqrt(q);
        costs[c] = delta * (root - halfDelta);
        slopes[c] = (delta * half) / root;
      }
    }
    const { factorStart, logWeights, factorCount } = this.flat;
    let total = 0;
    let slope = 0;
    for (let f = 0; f < factorCount; f++) {
      const first = factorStart[f];
      const end = factorStart[f + 1];
      if (end - first === 1) {
        total += costs[first];
        slope += slopes[first];
        continue;
      }
      if (end - first === 2) {
        const e0 = costs[first] - logWeights[first];
        const e1 = costs[first + 1] - logWeights[first + 1];
        const gap = e1 < e0 ? e0 - e1 : e1 - e0;
        if (!(gap < NEGLIGIBLE_GAP)) {
          total += e1 < e0 ? e1 : e0;
          slope += e1 < e0 ? slopes[first + 1] : slopes[first];
          continue;
        }
      }
      // The cost as cost(ρ) forms it (the same operations, so the same number); the slope weights each
      // component by its responsibility.
      let best = Infinity;
      for (let c = first; c < end; c++) best = Math.min(best, costs[c] - logWeights[c]);
      let others = 0;
      let weighted = 0;
      let leading = false;
      for (let c = first; c < end; c++) {
        const gap = costs[c] - logWeights[c] - best;
        if (gap === 0 && !leading) {
          leading = true;
          weighted += slopes[c];
        } else if (gap < NEGLIGIBLE_GAP) {
          const share = Math.exp(-gap);
          others += share;
          weighted += share * slopes[c];
        }
      }
      total += others > 0 ? best - Math.log1p(others) : best;
      slope += weighted / (1 + others);
    }
    this.costSlope = slope;
    return total;
  }

  /** ρ^{d−1}·p along the ray, relative to the density at the frame's center. */
  density(rho: number): number {
    return (this.d === 2 ? rho : rho * rho) * Math.exp(this.referenceCost - this.cost(rho));
  }

  /** Where the cost has risen `tailCost` above its lowest value on the ray, rising. */
  length(tailCost: number): number {
    let lowest = this.referenceCost;
    let previous = this.referenceCost;
    let rho = 1;
    for (;;) {
      const value = this.cost(rho);
      lowest = Math.min(lowest, value);
      if (value - lowest >= tailCost && value >= previous) break;
      previous = value;
      rho *= 2;
      if (rho > MAX_RAY_LENGTH) throw new ImproperPosteriorError(Float64Array.from(this.v));
    }
    let lo = rho / 2;
    let hi = rho;
    // The end only has to lie past the crossing, where the density is e^{−tailCost} of the ray's peak:
    // an eighth of the last doubling is as good as a sixty-fourth and saves three evaluations a ray.
    for (let i = 0; i < 3; i++) {
      const mid = 0.5 * (lo + hi);
      if (this.cost(mid) - lowest >= tailCost) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /** 0, the ray's length and every crossing of a component's ‖r‖ = δ in between, ascending. */
  breakpoints(length: number, out: number[]): void {
    const { alpha, beta, gamma } = this;
    const deltaSquared = this.delta * this.delta;
    out.length = 0;
    out.push(0, length);
    for (let c = 0; c < this.flat.count; c++) {
      const g = gamma[c];
      if (!(g > 0)) continue;
      const b = beta[c];
      const constant = alpha[c] - deltaSquared;
      const discriminant = b * b - g * constant;
      if (!(discriminant > 0)) continue;
      const root = Math.sqrt(discriminant);
      // Roots of γρ² + 2βρ + (α − δ²) written without cancellation.
      const q = b >= 0 ? -(b + root) : -(b - root);
      const r1 = q / g;
      const r2 = q !== 0 ? constant / q : r1;
      if (r1 > 0 && r1 < length) out.push(r1);
      if (r2 > 0 && r2 < length) out.push(r2);
    }
    // A handful of values: insertion sort beats Array.prototype.sort and its comparator calls.
    for (let i = 1; i < out.length; i++) {
      const value = out[i];
      let j = i - 1;
      while (j >= 0 && out[j] > value) {
        out[j + 1] = out[j];
        j--;
      }
      out[j + 1] = value;
    }
  }
}

/**
 * The region's per-ray coefficients, kept between calls: a fresh typed array of this size lives outside
 * the heap, and allocating it cost 1.5 % of a triangulation. Nothing in integratePosterior re-enters it.
 */
let regionStore = new Float64Array(0);

function regionBuffer(size: number): Float64Array {
  if (regionStore.length < size) regionStore = new Float64Array(Math.max(size, 2 * regionStore.length));
  return regionStore;
}

/**
 * Below this change of any factor's whitened residual anywhere on the rays (the residuals' units are the
 * factors' own σ) the rays' ends found for one posterior serve the next. The cost then moves by about
 * 1e-3 at most, so the bisection for an end (steps of an eighth of a doubling) decides differently only
 * for a probe within that of its threshold. Measured on 2 000 random triangulations: with 1e-4 no result
 * moved beyond 2e-11 σ; with 1e-3, positions moved by up to 1e-6 σ (docs/fusion-math.md, Cost, round 3).
 */
const RAY_END_TOLERANCE = 1e-4;

/**
 * The rays' ends of one integration, kept for the next in the same frame and with the same rule: a
 * fixed point that re-linearizes a posterior and moves it by a millionth of its σ finds the same ends,
 * and their search is 7 of a ray's ~25 cost evaluations. They are reused only while every component's
 * whitened residual along every ray (map·S·ρu + map·center − offset, ρ up to the longest end) lies within
 * RAY_END_TOLERANCE of the one they were found for; otherwise they are searched for again.
 */
export class RayEndCache {
  lengths: Float64Array = new Float64Array(0);
  /** Per row of the posterior they were found for: map·center − offset, then the row of map·S. */
  signature: Float64Array = new Float64Array(0);
  /** The component and factor layout they were found for. */
  layout = '';
  longest = 0;
  /** How many integrations reused the ends, and how many searched for them. */
  reused = 0;
  searched = 0;
}

function rayEndSignature(d: number, flat: FlatComponents, scale: ArrayLike<number>): Float64Array {
  const rows = flat.base.length;
  const signature = new Float64Array(rows * (d + 1));
  for (let row = 0; row < rows; row++) {
    signature[row * (d + 1)] = flat.base[row];
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let i = 0; i < d; i++) sum += flat.maps[row * d + i] * scale[i * d + j];
      signature[row * (d + 1) + 1 + j] = sum;
    }
  }
  return signature;
}

/** Whether `cache` holds ends for a posterior within RAY_END_TOLERANCE of this one; stores the new one if not. */
function reuseRayEnds(
  cache: RayEndCache,
  d: number,
  delta: number,
  flat: FlatComponents,
  scale: ArrayLike<number>,
  settings: QuadratureSettings,
): boolean {
  const signature = rayEndSignature(d, flat, scale);
  // Everything besides the residuals that decides where a ray ends: the rule's rays, δ, the tail cost.
  const layout = [
    d,
    delta,
    settings.directions,
    settings.lebedevPoints ?? 0,
    settings.tailCost,
    Array.from(flat.rows).join(','),
    Array.from(flat.factorStart).join(','),
  ].join(':');
  const rays = directionSet(d, settings.directions, settings.lebedevPoints).count;
  if (cache.layout === layout && cache.signature.length === signature.length) {
    // |Δ residual| ≤ |Δbase| + ρ·Σⱼ|Δ(map·S)ⱼ| for ρ up to the longest end, per row.
    let change = 0;
    for (let row = 0; row < flat.base.length; row++) {
      let along = 0;
      for (let j = 1; j <= d; j++) along += Math.abs(signature[row * (d + 1) + j] - cache.signature[row * (d + 1) + j]);
      change = Math.max(change, Math.abs(signature[row * (d + 1)] - cache.signature[row * (d + 1)]) + cache.longest * along);
    }
    if (change <= RAY_END_TOLERANCE) {
      cache.reused++;
      return true;
    }
  }
  cache.signature = signature;
  cache.layout = layout;
  cache.lengths = new Float64Array(rays);
  cache.longest = 0;
  cache.searched++;
  return false;
}

/** Inverse of a small symmetric positive definite matrix by Gauss–Jordan; d ≤ 3 and well scaled here. */
function invertSmall(matrix: ArrayLike<number>, d: number): Float64Array {
  const a = Float64Array.from(matrix);
  const inverse = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inverse[i * d + i] = 1;
  for (let col = 0; col < d; col++) {
    const pivot = a[col * d + col];
    for (let j = 0; j < d; j++) {
      a[col * d + j] /= pivot;
      inverse[col * d + j] /= pivot;
    }
    for (let r = 0; r < d; r++) {
      if (r === col) continue;
      const factor = a[r * d + col];
      for (let j = 0; j < d; j++) {
        a[r * d + j] -= factor * a[col * d + j];
        inverse[r * d + j] -= factor * inverse[col * d + j];
      }
    }
  }
  return inverse;
}

function logAbsDeterminant(matrix: ArrayLike<number>, d: number): number {
  const s = Float64Array.from(matrix);
  let sum = 0;
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(s[r * d + col]) > Math.abs(s[pivot * d + col])) pivot = r;
    if (pivot !== col) for (let j = 0; j < d; j++) [s[col * d + j], s[pivot * d + j]] = [s[pivot * d + j], s[col * d + j]];
    const pv = s[col * d + col];
    sum += Math.log(Math.abs(pv));
    for (let r = col + 1; r < d; r++) {
      const factor = s[r * d + col] / pv;
      for (let j = col; j < d; j++) s[r * d + j] -= factor * s[col * d + j];
    }
  }
  return sum;
}

/**
 * The quadrature of p over all space in the frame, and for each of `levels` the radius R of the region
 * (y − mean)ᵀ Σ⁻¹ (y − mean) ≤ R² of the moments it returns that holds that share of the mass. The frame's center should lie near the bulk of the mass (within a few of its standard
 * deviations) and its scale should be within a factor of a few of the posterior's: the rule is exact in
 * neither limit, only fast when the frame is good.
 *
 * `rayEnds` carries the rays' ends from one call to the next (RayEndCache): reused where the posterior
 * has barely moved in the same frame, searched for and stored otherwise.
 */
export function integratePosterior(
  d: number,
  delta: number,
  factors: readonly PosteriorFactor[],
  frame: PosteriorFrame,
  settings: QuadratureSettings,
  levels: readonly number[] = [],
  rayEnds?: RayEndCache,
): PosteriorSummary {
  const { center, scale } = frame;
  const flat = flatten(d, factors, center);
  const directions = directionSet(d, settings.directions, settings.lebedevPoints);
  const reuse = rayEnds !== undefined && reuseRayEnds(rayEnds, d, delta, flat, scale, settings);
  const { nodes, weights: nodeWeights } = gaussLegendre(settings.radialNodes);
  const ray = new RayIntegrand(d, delta, flat, scale);
  const wantRegion = levels.length > 0;
  const referenceCost = ray.referenceCost;
  const breakpoints: number[] = [];
  // For the region, in flat arrays (a typed array per ray cost a quarter of a region's quadrature): every
  // ray's [start, end, mass before start] per panel, where each ray's panels begin, and its coefficients.
  const panels: number[] = [];
  const panelStart = new Int32Array(directions.count + 1);
  const rayCoefficients = wantRegion ? regionBuffer(3 * flat.count * directions.count) : regionBuffer(0);
  let mass = 0;
  const first = new Float64Array(d);
  const second = new Float64Array(d * d);
  const u = new Float64Array(d);
  for (let k = 0; k < directions.count; k++) {
    for (let i = 0; i < d; i++) u[i] = directions.vectors[k * d + i];
    ray.aim(u);
    let length: number;
    if (reuse) {
      length = rayEnds.lengths[k];
    } else {
      length = ray.length(settings.tailCost);
      if (rayEnds !== undefined) {
        rayEnds.lengths[k] = length;
        rayEnds.longest = Math.max(rayEnds.longest, length);
      }
    }
    ray.breakpoints(length, breakpoints);
    let rayMass = 0;
    let rayFirst = 0;
    let raySecond = 0;
    for (let b = 0; b + 1 < breakpoints.length; b++) {
      const lo = breakpoints[b];
      const hi = breakpoints[b + 1];
      if (!(hi > lo)) continue;
      // Beyond a few units the integrand is a smooth exponential tail, so panels may grow with ρ.
      const pieces = Math.ceil((hi - lo) / (settings.maxPanel * Math.max(1, lo / TAIL_GROWTH)));
      const width = (hi - lo) / pieces;
      const half = 0.5 * width;
      for (let p = 0; p < pieces; p++) {
        const a = lo + p * width;
        const middle = a + half;
        if (wantRegion) panels.push(a, a + width, rayMass);
        for (let n = 0; n < nodes.length; n++) {
          const rho = middle + half * nodes[n];
          const w = half * nodeWeights[n] * ray.density(rho);
          rayMass += w;
          rayFirst += w * rho;
          raySecond += w * rho * rho;
        }
      }
    }
    const weight = directions.weights[k];
    mass += weight * rayMass;
    for (let i = 0; i < d; i++) {
      first[i] += weight * rayFirst * u[i];
      for (let j = 0; j < d; j++) second[i * d + j] += weight * raySecond * u[i] * u[j];
    }
    if (wantRegion) {
      panels.push(length, length, rayMass);
      panelStart[k + 1] = panels.length / 3;
      const offset = 3 * flat.count * k;
      rayCoefficients.set(ray.alpha, offset);
      rayCoefficients.set(ray.beta, offset + flat.count);
      rayCoefficients.set(ray.gamma, offset + 2 * flat.count);
    }
  }
  if (!(mass > 0) || !Number.isFinite(mass)) throw new RangeError(`posterior quadrature failed (mass ${mass})`);

  const meanZ = new Float64Array(d);
  for (let i = 0; i < d; i++) meanZ[i] = first[i] / mass;
  const covarianceZ = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) covarianceZ[i * d + j] = second[i * d + j] / mass - meanZ[i] * meanZ[j];
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = center[i];
    for (let j = 0; j < d; j++) sum += scale[i * d + j] * meanZ[j];
    mean[i] = sum;
  }
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      let sum = 0;
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) sum += scale[i * d + a] * covarianceZ[a * d + b] * scale[j * d + b];
      covariance[i * d + j] = sum;
      covariance[j * d + i] = sum;
    }
  }
  const logMass = Math.log(mass) - referenceCost + logAbsDeterminant(scale, d);

  const radii: number[] = [];
  if (wantRegion) {
    const count = flat.count;
    // The region is the ellipsoid of the moments just computed, (z − m)ᵀ C⁻¹ (z − m) ≤ R² in the frame's
    // coordinates; each ray crosses it on one segment [ρ_in, ρ_out], roots of c ρ² − 2bρ + a₀ − R² = 0.
    const inverse = invertSmall(covarianceZ, d);
    const inverseMean = new Float64Array(d);
    let a0 = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) inverseMean[i] += inverse[i * d + j] * meanZ[j];
      a0 += meanZ[i] * inverseMean[i];
    }
    const rayB = new Float64Array(directions.count);
    const rayC = new Float64Array(directions.count);
    for (let k = 0; k < directions.count; k++) {
      let b = 0;
      let c = 0;
      for (let i = 0; i < d; i++) {
        const ui = directions.vectors[k * d + i];
        b += ui * inverseMean[i];
        for (let j = 0; j < d; j++) c += ui * inverse[i * d + j] * directions.vectors[k * d + j];
      }
      rayB[k] = b;
      rayC[k] = c;
    }
    // d/dρ of cumulative(k, ρ) at its last call: the slope of the rule itself, not the density, so that
    // Newton on R converges quadratically to the root of massWithin (with the density it converged
    // only linearly, by the rule's relative error ≈ 1e-3 per step, and took 7 mass evaluations).
    let cumulativeSlope = 0;
    const cumulative = (k: number, rho: number): number => {
      const last = panelStart[k + 1] - 1;
      cumulativeSlope = 0;
      if (rho >= panels[3 * last]) return panels[3 * last + 2];
      let lo = panelStart[k];
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (panels[3 * mid] <= rho) lo = mid;
        else hi = mid;
      }
      const a = panels[3 * lo];
      let within = panels[3 * lo + 2];
      const half = 0.5 * (rho - a);
      const middle = a + half;
      // ∫_a^ρ ≈ h Σ wₙ f(a + h(1 + xₙ)) with h = (ρ − a)/2, whose ρ-derivative is
      // ½ Σ wₙ f(tₙ) + h Σ wₙ f'(tₙ)(1 + xₙ)/2, and f' = f·((d − 1)/t − cost'(t)).
      let plain = 0;
      let moved = 0;
      for (let n = 0; n < nodes.length; n++) {
        const t = middle + half * nodes[n];
        const cost = ray.costWithSlope(t);
        const f = (d === 2 ? t : t * t) * Math.exp(referenceCost - cost);
        plain += nodeWeights[n] * f;
        moved += nodeWeights[n] * f * ((d - 1) / t - ray.costSlope) * 0.5 * (1 + nodes[n]);
      }
      within += half * plain;
      cumulativeSlope = 0.5 * plain + half * moved;
      return within;
    };
    let slope = 0;
    const massWithin = (radiusZ: number): number => {
      let value = 0;
      slope = 0;
      for (let k = 0; k < directions.count; k++) {
        const b = rayB[k];
        const c = rayC[k];
        const discriminant = b * b - c * (a0 - radiusZ * radiusZ);
        if (!(discriminant > 0)) continue;
        const root = Math.sqrt(discriminant);
        const outer = (b + root) / c;
        if (!(outer > 0)) continue;
        const inner = Math.max(0, (b - root) / c);
        const offset = 3 * count * k;
        for (let m = 0; m < count; m++) {
          ray.alpha[m] = rayCoefficients[offset + m];
          ray.beta[m] = rayCoefficients[offset + count + m];
          ray.gamma[m] = rayCoefficients[offset + 2 * count + m];
        }
        const weight = directions.weights[k];
        // dρ_out/dR = R/√disc and dρ_in/dR = −R/√disc.
        const rate = radiusZ / root;
        value += weight * cumulative(k, outer);
        slope += weight * rate * cumulativeSlope;
        if (inner > 0) {
          value -= weight * cumulative(k, inner);
          slope += weight * rate * cumulativeSlope;
        }
      }
      slope /= mass;
      return value / mass;
    };
    let longest = 0;
    for (let k = 0; k < directions.count; k++) longest = Math.max(longest, panels[3 * (panelStart[k + 1] - 1)]);
    // The Gaussian's radius (the χ_d quantile) is within a few percent of these posteriors' own, two
    // Newton steps closer than the √d used before.
    let previous = levels.length > 0 ? gaussianRegionRadius(d, levels[0]) : Math.sqrt(d);
    for (const level of levels) {
      let lo = 0;
      let hi = 4 * longest;
      let x = previous;
      let lastNewtonStep = Number.NaN;
      for (let iteration = 0; iteration < 100; iteration++) {
        const g = massWithin(x) - level;
        if (g < 0) lo = x;
        else hi = x;
        let next = slope > 0 ? x - g / slope : Number.NaN;
        const newton = next > lo && next < hi;
        if (!newton) next = 0.5 * (lo + hi);
        const step = Math.abs(next - x);
        // Two Newton steps in a row measure K in step' ≈ K·step²; when the step that would follow is
        // predicted below the tolerance, this one already lands within it, and the mass evaluation
        // that would only confirm it (one of about five) is saved.
        const predicted = newton && lastNewtonStep > 0 ? (step / (lastNewtonStep * lastNewtonStep)) * step * step : Infinity;
        lastNewtonStep = newton ? step : Number.NaN;
        const done = step <= 1e-12 * x || hi - lo <= 1e-12 * hi || predicted <= 1e-12 * x;
        x = next;
        if (done) break;
      }
      radii.push(x);
      previous = x;
    }
  }
  return { mean, covariance, logMass, radii };
}
