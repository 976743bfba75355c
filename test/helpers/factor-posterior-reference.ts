/**
 * Independent integration of a flat-prior posterior p(y) ∝ Π_f Σ_k exp(logWeight_fk − h_δ(‖M_fk·y − o_fk‖))
 * over y ∈ R^d, d = 2 or 3 (docs/spec.md §9), written from the definition and importing nothing from
 * src/huber. Unlike the service's spherical–radial rule it is a tensor product of Gauss–Legendre panels
 * on a box in a whitened frame y = c + L·z: the outer coordinates on a fixed grid, and along each line of
 * the innermost one the integrand is split where a component's residual norm crosses δ (roots of a
 * quadratic in the line's parameter), so that each line integral converges geometrically.
 */

import { lowerFactor } from './posterior-reference.js';

export interface ReferenceComponent {
  /** rows × d, row-major. */
  readonly map: ArrayLike<number>;
  readonly offset: ArrayLike<number>;
  /** log(prior·|A|); only compared between the components of one factor. */
  readonly logWeight: number;
}

export type ReferenceFactor = readonly ReferenceComponent[];

export interface BoxRule {
  /** Half-width of the box in whitened units. */
  halfWidth: number;
  /** Gauss–Legendre panels per outer coordinate over [−halfWidth, halfWidth]. */
  outerPanels: number;
  /** Longest panel along a line, whitened units, between the line's kinks. */
  linePanel: number;
  /** Gauss–Legendre nodes per panel. */
  nodes: number;
}

/** Its own error, measured against a rule twice as fine (test/huber/posterior-integration.test.ts): ~1e-6. */
export const REFERENCE_BOX: BoxRule = { halfWidth: 10, outerPanels: 24, linePanel: 1, nodes: 6 };

function huberLoss(r: number, delta: number): number {
  return r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
}

/** Σ_f −log Σ_k exp(logWeight − h_δ(‖M y − o‖)), the posterior's negative log density up to a constant. */
export function referenceFactorCost(delta: number, factors: readonly ReferenceFactor[], y: ArrayLike<number>): number {
  const d = y.length;
  let total = 0;
  for (const factor of factors) {
    const energies = factor.map(({ map, offset, logWeight }) => {
      let q = 0;
      for (let i = 0; i < offset.length; i++) {
        let r = -offset[i]!;
        for (let j = 0; j < d; j++) r += map[i * d + j]! * y[j]!;
        q += r * r;
      }
      return huberLoss(Math.sqrt(q), delta) - (factor.length === 1 ? 0 : logWeight);
    });
    const lowest = Math.min(...energies);
    total += lowest - Math.log(energies.reduce((s, e) => s + Math.exp(lowest - e), 0));
  }
  return total;
}

const ruleCache = new Map<number, { nodes: number[]; weights: number[] }>();

/** n-point Gauss–Legendre on [−1, 1]: Newton's method on P_n from Chebyshev guesses. */
export function legendreRule(n: number): { nodes: number[]; weights: number[] } {
  const cached = ruleCache.get(n);
  if (cached) return cached;
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 1;
    for (let iteration = 0; iteration < 100; iteration++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    nodes.push(x);
    weights.push(2 / ((1 - x * x) * derivative * derivative));
  }
  const rule = { nodes, weights };
  ruleCache.set(n, rule);
  return rule;
}

/** A list of (node, weight) covering [lo, hi] with `panels` equal Gauss–Legendre panels. */
function panelRule(lo: number, hi: number, panels: number, n: number): { nodes: number[]; weights: number[] } {
  const { nodes, weights } = legendreRule(n);
  const out = { nodes: [] as number[], weights: [] as number[] };
  const width = (hi - lo) / panels;
  for (let p = 0; p < panels; p++) {
    const middle = lo + (p + 0.5) * width;
    for (let k = 0; k < n; k++) {
      out.nodes.push(middle + 0.5 * width * nodes[k]!);
      out.weights.push(0.5 * width * weights[k]!);
    }
  }
  return out;
}

interface Flat {
  d: number;
  delta: number;
  factors: readonly ReferenceFactor[];
}

/**
 * ∫_lo^hi e^{reference − cost(p + t·v)}·[1, t, t²] dt, split at every kink on the line and into panels no
 * longer than rule.linePanel.
 */
function lineMoments(flat: Flat, p: Float64Array, v: Float64Array, lo: number, hi: number, reference: number, rule: BoxRule) {
  const { d, delta, factors } = flat;
  // Per component: residual r(t) = a + t·b, so ‖r‖² = α + 2βt + γt²; flat arrays keep the node loop lean.
  const count = factors.reduce((s, f) => s + f.length, 0);
  const alpha = new Float64Array(count);
  const beta = new Float64Array(count);
  const gamma = new Float64Array(count);
  const logWeights = new Float64Array(count);
  const factorEnds: number[] = [];
  let c = 0;
  for (const factor of factors) {
    for (const { map, offset, logWeight } of factor) {
      for (let i = 0; i < offset.length; i++) {
        let a = -offset[i]!;
        let b = 0;
        for (let j = 0; j < d; j++) {
          a += map[i * d + j]! * p[j]!;
          b += map[i * d + j]! * v[j]!;
        }
        alpha[c]! += a * a;
        beta[c]! += a * b;
        gamma[c]! += b * b;
      }
      logWeights[c] = factor.length === 1 ? 0 : logWeight;
      c++;
    }
    factorEnds.push(c);
  }
  const cuts = [lo, hi];
  for (let m = 0; m < count; m++) {
    if (!(gamma[m]! > 0)) continue;
    const discriminant = beta[m]! * beta[m]! - gamma[m]! * (alpha[m]! - delta * delta);
    if (!(discriminant > 0)) continue;
    for (const t of [(-beta[m]! - Math.sqrt(discriminant)) / gamma[m]!, (-beta[m]! + Math.sqrt(discriminant)) / gamma[m]!]) {
      if (t > lo && t < hi) cuts.push(t);
    }
  }
  cuts.sort((x, y) => x - y);
  const energy = (m: number, t: number): number =>
    huberLoss(Math.sqrt(Math.max(0, alpha[m]! + t * (2 * beta[m]! + t * gamma[m]!))), delta) - logWeights[m]!;
  const cost = (t: number): number => {
    let total = 0;
    let first = 0;
    for (const end of factorEnds) {
      if (end - first === 1) {
        total += energy(first, t);
      } else {
        let lowest = Infinity;
        for (let m = first; m < end; m++) lowest = Math.min(lowest, energy(m, t));
        let sum = 0;
        for (let m = first; m < end; m++) sum += Math.exp(lowest - energy(m, t));
        total += lowest - Math.log(sum);
      }
      first = end;
    }
    return total;
  };
  const { nodes, weights } = legendreRule(rule.nodes);
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const a = cuts[k]!;
    const b = cuts[k + 1]!;
    if (!(b > a)) continue;
    const panels = Math.max(1, Math.ceil((b - a) / rule.linePanel));
    const half = (b - a) / panels / 2;
    for (let q = 0; q < panels; q++) {
      const middle = a + (2 * q + 1) * half;
      for (let n = 0; n < nodes.length; n++) {
        const t = middle + half * nodes[n]!;
        const w = half * weights[n]! * Math.exp(reference - cost(t));
        m0 += w;
        m1 += w * t;
        m2 += w * t * t;
      }
    }
  }
  return { m0, m1, m2 };
}

export function lowerCholesky(m: ArrayLike<number>, d: number): Float64Array {
  return Float64Array.from(lowerFactor(m, d));
}

/** The point c + L·z and the innermost axis's direction L·e_{d−1}. */
function lineThrough(center: ArrayLike<number>, lower: Float64Array, outer: readonly number[], d: number) {
  const p = new Float64Array(d);
  const v = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    p[i] = center[i]!;
    for (let j = 0; j < d - 1; j++) p[i]! += lower[i * d + j]! * outer[j]!;
    v[i] = lower[i * d + d - 1]!;
  }
  return { p, v };
}

/** Outer nodes of the box: a product of panel rules over d − 1 coordinates. */
function outerGrid(d: number, rule: BoxRule): { points: number[][]; weights: number[] } {
  const axis = panelRule(-rule.halfWidth, rule.halfWidth, rule.outerPanels, rule.nodes);
  if (d === 2) return { points: axis.nodes.map((x) => [x]), weights: axis.weights };
  const points: number[][] = [];
  const weights: number[] = [];
  axis.nodes.forEach((x, i) =>
    axis.nodes.forEach((y, j) => {
      points.push([x, y]);
      weights.push(axis.weights[i]! * axis.weights[j]!);
    }),
  );
  return { points, weights };
}

export interface ReferencePosterior {
  mean: Float64Array;
  covariance: Float64Array;
  /** ∫ e^{cost(center) − cost(y)} dy over the box. */
  mass: number;
}

/**
 * Posterior mean and covariance over the box c ± halfWidth·L in the frame (center, covariance = L·Lᵀ);
 * the frame should roughly whiten the posterior so that the box holds all but a negligible share of it.
 */
export function boxPosterior(
  delta: number,
  factors: readonly ReferenceFactor[],
  frame: { center: ArrayLike<number>; covariance: ArrayLike<number> },
  rule: BoxRule = REFERENCE_BOX,
): ReferencePosterior {
  const d = frame.center.length;
  const flat = { d, delta, factors };
  const lower = lowerCholesky(frame.covariance, d);
  const reference = referenceFactorCost(delta, factors, frame.center);
  const grid = outerGrid(d, rule);
  let mass = 0;
  const first = new Float64Array(d);
  const second = new Float64Array(d * d);
  const z = new Float64Array(d);
  grid.points.forEach((outer, g) => {
    const { p, v } = lineThrough(frame.center, lower, outer, d);
    const { m0, m1, m2 } = lineMoments(flat, p, v, -rule.halfWidth, rule.halfWidth, reference, rule);
    const w = grid.weights[g]!;
    // E over the line of z = (outer, t): z_i z_j with t-powers from the line's moments.
    for (let i = 0; i < d - 1; i++) z[i] = outer[i]!;
    mass += w * m0;
    for (let i = 0; i < d; i++) {
      first[i]! += w * (i < d - 1 ? z[i]! * m0 : m1);
      for (let j = 0; j < d; j++) {
        const value = i < d - 1 && j < d - 1 ? z[i]! * z[j]! * m0 : i < d - 1 ? z[i]! * m1 : j < d - 1 ? z[j]! * m1 : m2;
        second[i * d + j]! += w * value;
      }
    }
  });
  const meanZ = Array.from(first, (x) => x / mass);
  const mean = new Float64Array(d);
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    mean[i] = frame.center[i]!;
    for (let j = 0; j < d; j++) mean[i]! += lower[i * d + j]! * meanZ[j]!;
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          sum += lower[i * d + a]! * (second[a * d + b]! / mass - meanZ[a]! * meanZ[b]!) * lower[j * d + b]!;
        }
      }
      covariance[i * d + j] = sum;
    }
  }
  return { mean, covariance, mass };
}

/**
 * For each radius R, the posterior mass inside (y − mean)ᵀ covariance⁻¹ (y − mean) ≤ R², as a share of the
 * mass in the box of ±halfWidth about it. In the ellipsoid's whitened frame it is a ball: the outer
 * coordinates run over the disk (d = 3: polar, s = R·sin α; d = 2: s = R·sin α on a segment), which makes
 * each chord R·cos α and every integrand smooth at the boundary, and each chord is integrated as a line of
 * the box rule.
 */
export function ellipsoidMasses(
  delta: number,
  factors: readonly ReferenceFactor[],
  region: { mean: ArrayLike<number>; covariance: ArrayLike<number> },
  radii: readonly number[],
  rule: BoxRule = REFERENCE_BOX,
): number[] {
  const d = region.mean.length;
  const flat = { d, delta, factors };
  const lower = lowerCholesky(region.covariance, d);
  const reference = referenceFactorCost(delta, factors, region.mean);
  const total = boxPosterior(delta, factors, { center: region.mean, covariance: region.covariance }, rule).mass;
  const panels = rule.outerPanels;
  return radii.map((R) => {
    let inside = 0;
    if (d === 2) {
      const alphas = panelRule(-Math.PI / 2, Math.PI / 2, panels, rule.nodes);
      alphas.nodes.forEach((alpha, k) => {
        const chord = R * Math.cos(alpha);
        const { p, v } = lineThrough(region.mean, lower, [R * Math.sin(alpha)], d);
        inside += alphas.weights[k]! * chord * lineMoments(flat, p, v, -chord, chord, reference, rule).m0;
      });
    } else {
      const alphas = panelRule(0, Math.PI / 2, panels, rule.nodes);
      const azimuths = 4 * panels;
      alphas.nodes.forEach((alpha, k) => {
        const s = R * Math.sin(alpha);
        const chord = R * Math.cos(alpha);
        for (let m = 0; m < azimuths; m++) {
          const phi = (2 * Math.PI * m) / azimuths;
          const { p, v } = lineThrough(region.mean, lower, [s * Math.cos(phi), s * Math.sin(phi)], d);
          const weight = alphas.weights[k]! * ((2 * Math.PI) / azimuths) * s * chord;
          inside += weight * lineMoments(flat, p, v, -chord, chord, reference, rule).m0;
        }
      });
    }
    return inside / total;
  });
}
