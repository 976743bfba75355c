/** One compared setting's numbers (docs/spec.md §10 report.json `settings.*`) from the instances evaluated under it. */
import { areaUnderCurve, failureRate, interOcularDistance, mean, normalizedMeanError } from './face-alignment-metrics.js';
import { WFLW_ATTRIBUTES, type LabelledInstance, type WflwAttribute } from './labelled-set.js';
import { objectKeypointSimilarity, percentCorrect } from './pose-metrics.js';
import {
  calibrationBins,
  ProbabilisticScorer,
  type CalibrationBin,
  type KeypointScore,
  type ReturnedKeypoint,
} from './probabilistic-metrics.js';

export const SETTINGS = {
  'tta-off': { tta: false },
  'tta-ml': { tta: true, fusion: 'ml' },
  'tta-mean': { tta: true, fusion: 'mean' },
} as const satisfies Record<string, { tta: boolean; fusion?: 'ml' | 'mean' }>;
export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

export const PCK_THRESHOLDS = [0.05, 0.1, 0.2] as const;

export interface ErrorSummary {
  nme: number;
  failureRate: number;
  auc: number;
}

export interface SettingMetrics {
  nme?: number;
  failureRate?: number;
  auc?: number;
  subsets?: Partial<Record<WflwAttribute, ErrorSummary>>;
  pck?: Record<string, number>;
  oks?: number;
  nll: number;
  coverage: Record<string, number>;
  calibration: CalibrationBin[];
}

/** An instance with what the service returned for it under one setting, keypoints in model order. */
export interface ScoredInstance {
  instance: LabelledInstance;
  keypoints: readonly ReturnedKeypoint[];
}

export interface SettingResult {
  metrics: SettingMetrics;
  /** The errors whose cumulative distribution is plotted: per-instance NME (WFLW), per-keypoint error / box diagonal (COCO). */
  errors: number[];
}

function summarize(errors: readonly number[]): ErrorSummary {
  return { nme: mean(errors), failureRate: failureRate(errors), auc: areaUnderCurve(errors) };
}

export interface SettingMetricsOptions {
  format: 'wflw' | 'coco';
  delta: number;
  sigmas?: readonly number[] | undefined;
  calibrationBins?: number;
}

export function settingMetrics(scored: readonly ScoredInstance[], options: SettingMetricsOptions): SettingResult {
  if (scored.length === 0) throw new RangeError('no instance was evaluated');
  const scorer = new ProbabilisticScorer(options.delta);
  const scores: KeypointScore[] = [];
  const distances: number[] = [];
  const diagonals: number[] = [];
  const instanceErrors: number[] = [];
  const oks: number[] = [];
  for (const { instance, keypoints } of scored) {
    const { points, labelled } = instance;
    const predicted: number[] = [];
    const squared: number[] = [];
    const diagonal = Math.hypot(instance.box.width, instance.box.height);
    keypoints.forEach((keypoint, k) => {
      predicted.push(keypoint.x, keypoint.y);
      const gx = points[2 * k]!;
      const gy = points[2 * k + 1]!;
      squared.push((keypoint.x - gx) ** 2 + (keypoint.y - gy) ** 2);
      if (!labelled[k]) return;
      scores.push(scorer.score(keypoint, gx, gy));
      distances.push(Math.hypot(keypoint.x - gx, keypoint.y - gy));
      diagonals.push(diagonal);
    });
    if (options.format === 'wflw') instanceErrors.push(normalizedMeanError(predicted, points, interOcularDistance(points)));
    else if (options.sigmas !== undefined)
      oks.push(
        objectKeypointSimilarity(squared, labelled, options.sigmas, instance.area ?? instance.box.width * instance.box.height),
      );
  }
  const metrics: SettingMetrics = {
    nll: mean(scores.map((score) => score.nll)),
    coverage: scorer.coverage(scores.map((score) => score.radius)),
    calibration: calibrationBins(scores, options.calibrationBins),
  };
  if (options.format === 'wflw') {
    const subsets: Partial<Record<WflwAttribute, ErrorSummary>> = {};
    for (const attribute of WFLW_ATTRIBUTES) {
      const members = instanceErrors.filter((_, i) => scored[i]!.instance.attributes?.[attribute] === true);
      if (members.length > 0) subsets[attribute] = summarize(members);
    }
    const { nme, failureRate: fr, auc } = summarize(instanceErrors);
    // Key order as docs/spec.md §10 lists it, so report.json reads in the documented order.
    return { metrics: { nme, failureRate: fr, auc, subsets, ...metrics }, errors: instanceErrors };
  }
  const pck = Object.fromEntries(PCK_THRESHOLDS.map((alpha) => [String(alpha), percentCorrect(distances, diagonals, alpha)]));
  const withPose: SettingMetrics = oks.length > 0 ? { pck, oks: mean(oks), ...metrics } : { pck, ...metrics };
  return { metrics: withPose, errors: distances.map((distance, i) => distance / diagonals[i]!) };
}
