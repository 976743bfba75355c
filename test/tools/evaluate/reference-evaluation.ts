/**
 * What the service must return for the known model, and every report number, computed from the definitions
 * alone (SPEC §1–§4, §10): closed-form views and fusion, quadrature for c₂(δ), κ and the level radii, direct
 * counting for coverage. Nothing here comes from src/huber or tools/evaluate.
 */
import {
  referenceKappa,
  referenceMoment,
  referenceNormalizer,
  referenceRadialIntegral,
  referenceLoss,
} from '../../helpers/huber-reference.js';
import { KNOWN_INPUT_SIZE, type KnownModel, type Mat2 } from './known-model.js';

export const DELTA = 1;
export const KAPPA = referenceKappa(2, DELTA);
export const LOG_NORMALIZER = Math.log(referenceNormalizer(2, DELTA));
export const LEVELS = [0.5, 0.8, 0.9, 0.95, 0.99];
export type Setting = 'tta-off' | 'tta-ml' | 'tta-mean';
export const SETTINGS: Setting[] = ['tta-off', 'tta-ml', 'tta-mean'];

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Served {
  mean: [number, number];
  covariance: Mat2;
}

interface View {
  mean: [number, number];
  precision: Mat2;
  covariance: Mat2;
}

const det = (m: Mat2) => m[0][0] * m[1][1] - m[0][1] * m[1][0];
const inverse = (m: Mat2): Mat2 => {
  const d = det(m);
  return [
    [m[1][1] / d, -m[0][1] / d],
    [-m[1][0] / d, m[0][0] / d],
  ];
};
const square = (a: Mat2): Mat2 => [
  [a[0][0] * a[0][0] + a[0][1] * a[1][0], a[0][0] * a[0][1] + a[0][1] * a[1][1]],
  [a[1][0] * a[0][0] + a[1][1] * a[1][0], a[1][0] * a[0][1] + a[1][1] * a[1][1]],
];
const scale = (m: Mat2, s: number): Mat2 => [
  [m[0][0] * s, m[0][1] * s],
  [m[1][0] * s, m[1][1] * s],
];
const quadratic = (m: Mat2, v: [number, number]) =>
  v[0] * (m[0][0] * v[0] + m[0][1] * v[1]) + v[1] * (m[1][0] * v[0] + m[1][1] * v[1]);

/** The crop of SPEC §3 with scale 1: side = the box diagonal, centred on the box. */
function crop(box: Box) {
  const side = Math.hypot(box.width, box.height);
  return { ox: box.x + box.width / 2 - side / 2, oy: box.y + box.height / 2 - side / 2, side, step: side / KNOWN_INPUT_SIZE };
}

function view(mean: [number, number], a: Mat2, step: number): View {
  const precision = scale(square(a), 1 / (step * step));
  return { mean, precision, covariance: scale(inverse(precision), KAPPA) };
}

/** The un-mirrored view and the mirrored one (slot flip(k), brought back by the mirror), per keypoint, in image pixels. */
export function views(model: KnownModel, box: Box): [View, View][] {
  const { ox, oy, side, step } = crop(box);
  const partner = model.keypoints.map((_, k) => k);
  for (const [a, b] of model.flipPairs) {
    partner[a] = b;
    partner[b] = a;
  }
  return model.keypoints.map(({ q, a }, k) => {
    const mirrored = model.keypoints[partner[k]!]!;
    const [[m11, m12], [, m22]] = mirrored.a;
    return [
      view([ox + step * q[0], oy + step * q[1]], a, step),
      view(
        [ox + side - step * mirrored.q[0], oy + step * mirrored.q[1]],
        [
          [m11, -m12],
          [-m12, m22],
        ],
        step,
      ),
    ];
  });
}

/** SPEC §4: the fused point and the mixture's second moment about it. */
export function served(model: KnownModel, box: Box, setting: Setting): Served[] {
  return views(model, box).map(([first, second]) => {
    if (setting === 'tta-off') return { mean: first.mean, covariance: first.covariance };
    let point: [number, number];
    if (setting === 'tta-mean') {
      point = [(first.mean[0] + second.mean[0]) / 2, (first.mean[1] + second.mean[1]) / 2];
    } else {
      // Both views inside δ of each other: the Huber cost is quadratic there, so the ML point is the
      // precision-weighted mean (one majorize–minimize step from the first view lands on it).
      const sum: Mat2 = [
        [first.precision[0][0] + second.precision[0][0], first.precision[0][1] + second.precision[0][1]],
        [first.precision[1][0] + second.precision[1][0], first.precision[1][1] + second.precision[1][1]],
      ];
      const b = [0, 1].map(
        (i) =>
          first.precision[i]![0]! * first.mean[0] +
          first.precision[i]![1]! * first.mean[1] +
          second.precision[i]![0]! * second.mean[0] +
          second.precision[i]![1]! * second.mean[1],
      ) as [number, number];
      const s = inverse(sum);
      point = [s[0][0] * b[0] + s[0][1] * b[1], s[1][0] * b[0] + s[1][1] * b[1]];
      for (const candidate of [first.mean, point]) {
        for (const v of [first, second]) {
          const r = Math.sqrt(quadratic(v.precision, [candidate[0] - v.mean[0], candidate[1] - v.mean[1]]));
          if (!(r <= DELTA))
            throw new Error(`test set-up: views ${r} apart in whitened units, beyond δ; the closed form does not apply`);
        }
      }
    }
    const covariance: Mat2 = [
      [0, 0],
      [0, 0],
    ];
    for (const v of [first, second]) {
      const d = [v.mean[0] - point[0], v.mean[1] - point[1]];
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) covariance[i]![j]! += (v.covariance[i]![j]! + d[i]! * d[j]!) / 2;
    }
    return { mean: point, covariance };
  });
}

/** r_p with ∫₀^r ρ e^{−h(ρ)} dρ = p·∫₀^∞, by bisection on quadrature. */
export function levelRadius(p: number): number {
  const total = referenceMoment(1, DELTA);
  let lo = 0;
  let hi = 60;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (referenceRadialIntegral(1, DELTA, 0, mid) / total < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface KeypointFacts {
  nll: number;
  radius: number;
  trace: number;
  squaredError: number;
  distance: number;
}

/** The returned distribution: the served mean, Λ = κ Σ⁻¹, δ = 1. */
export function keypointFacts(prediction: Served, truth: [number, number]): KeypointFacts {
  const precision = scale(inverse(prediction.covariance), KAPPA);
  const d: [number, number] = [truth[0] - prediction.mean[0], truth[1] - prediction.mean[1]];
  const radius = Math.sqrt(quadratic(precision, d));
  return {
    nll: -0.5 * Math.log(det(precision)) + LOG_NORMALIZER + referenceLoss(radius, DELTA),
    radius,
    trace: prediction.covariance[0][0] + prediction.covariance[1][1],
    squaredError: d[0] * d[0] + d[1] * d[1],
    distance: Math.hypot(d[0], d[1]),
  };
}

export function average(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function coverageOf(facts: readonly KeypointFacts[], radii: readonly number[]): number[] {
  return radii.map((r) => facts.filter((f) => f.radius <= r).length / facts.length);
}

export interface ReferenceBin {
  count: number;
  predictedRmse: number;
  /** Every value the bin's empirical rmse may take: mirror-partner keypoints under TTA tie exactly in trace Σ, and a tie at a bin edge may fall either way (SPEC §10). */
  empiricalRmse: number[];
}

const tied = (a: KeypointFacts, b: KeypointFacts) => Math.abs(a.trace - b.trace) <= 1e-9 * a.trace;

/** Bins written out the slow way: sizes ⌈n/10⌉ for the first n mod 10 bins, ⌊n/10⌋ after. */
export function bins(facts: readonly KeypointFacts[], count = 10): ReferenceBin[] {
  const sorted = [...facts].sort((a, b) => a.trace - b.trace);
  const edges = [0];
  for (let b = 0; b < count; b++)
    edges.push(edges[b]! + (b < sorted.length % count ? Math.ceil(sorted.length / count) : Math.floor(sorted.length / count)));
  // At a tied edge the two straddling keypoints may swap bins; a wider tie would need more cases than this test has.
  const swappable = edges.map((e) => e > 0 && e < sorted.length && tied(sorted[e - 1]!, sorted[e]!));
  edges.forEach((e, i) => {
    if (
      swappable[i] &&
      ((e >= 2 && tied(sorted[e - 2]!, sorted[e]!)) || (e + 1 < sorted.length && tied(sorted[e - 1]!, sorted[e + 1]!)))
    ) {
      throw new Error('test set-up: three keypoints tie at a bin edge');
    }
  });
  return edges.slice(0, -1).map((start, b) => {
    const end = edges[b + 1]!;
    const size = end - start;
    const members = sorted.slice(start, end);
    const base = members.reduce((sum, m) => sum + m.squaredError, 0);
    const options = new Set<number>();
    for (const swapStart of swappable[b] ? [false, true] : [false]) {
      for (const swapEnd of swappable[b + 1] ? [false, true] : [false]) {
        let sum = base;
        if (swapStart) sum += sorted[start - 1]!.squaredError - sorted[start]!.squaredError;
        if (swapEnd) sum += sorted[end]!.squaredError - sorted[end - 1]!.squaredError;
        options.add(Math.sqrt(sum / size));
      }
    }
    return { count: size, predictedRmse: Math.sqrt(average(members.map((m) => m.trace))), empiricalRmse: [...options] };
  });
}
