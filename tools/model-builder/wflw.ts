// WFLW's 98 landmarks: names, flip pairs (docs/spec.md §7) and the reference code's landmark
// normalization, which the default model's manifest carries.
import { WFLW_HALF_PRECISION_224, WFLW_MEAN_224 } from './wflw-normalizer.js';
import type { ManifestKeypoint } from '../../src/models/manifest-json.js';

export const WFLW_KEYPOINT_COUNT = 98;

// "right"/"left" are the subject's, as in WFLW's own annotation order: the
// right eye (60–67) appears on the left of the image. A left brow or eye
// point is numbered like its mirror partner on the right (WFLW runs the two
// sides in opposite directions), so flipping swaps exactly "right" and "left"
// in those names: right_eye_0 (60, outer corner) ↔ left_eye_0 (72).
export const WFLW_KEYPOINT_NAMES: readonly string[] = [
  ...range(33, (i) => `contour_${i}`),
  ...range(9, (i) => `right_brow_${i}`),
  ...[4, 3, 2, 1, 0, 8, 7, 6, 5].map((i) => `left_brow_${i}`),
  ...range(4, (i) => `nose_bridge_${i}`),
  ...range(5, (i) => `nose_base_${i}`),
  ...range(8, (i) => `right_eye_${i}`),
  ...[4, 3, 2, 1, 0, 7, 6, 5].map((i) => `left_eye_${i}`),
  ...range(12, (i) => `mouth_outer_${i}`),
  ...range(8, (i) => `mouth_inner_${i}`),
  'right_pupil',
  'left_pupil',
];

export const WFLW_FLIP_PAIRS: readonly (readonly [number, number])[] = [
  ...range(16, (i) => [i, 32 - i] as const),
  [33, 46],
  [34, 45],
  [35, 44],
  [36, 43],
  [37, 42],
  [38, 50],
  [39, 49],
  [40, 48],
  [41, 47],
  [55, 59],
  [56, 58],
  [60, 72],
  [61, 71],
  [62, 70],
  [63, 69],
  [64, 68],
  [65, 75],
  [66, 74],
  [67, 73],
  [76, 82],
  [77, 81],
  [78, 80],
  [83, 87],
  [84, 86],
  [88, 92],
  [89, 91],
  [93, 95],
  [96, 97],
];

/** Inter-ocular landmarks for NME (outer eye corners). */
export const WFLW_INTEROCULAR: readonly [number, number] = [60, 72];

/** The crop size the reference code's WFLW statistics are measured in. */
export const WFLW_REFERENCE_CROP_SIZE = 224;

/**
 * Manifest keypoints with the reference code's WFLW normalization (wflw-normalizer.ts), rescaled from
 * its 224-px crop to an S-px one: means scale by S/224, half precisions by 224/S.
 */
export function wflwManifestKeypoints(inputSize = WFLW_REFERENCE_CROP_SIZE): ManifestKeypoint[] {
  const scale = inputSize / WFLW_REFERENCE_CROP_SIZE;
  return WFLW_KEYPOINT_NAMES.map((name, k) => {
    const mean = WFLW_MEAN_224[k]!;
    const [[h11, h12], [h21, h22]] = WFLW_HALF_PRECISION_224[k]!;
    return {
      name,
      mean: [mean[0] * scale, mean[1] * scale],
      whitening: [
        [h11 / scale, h12 / scale],
        [h21 / scale, h22 / scale],
      ],
    };
  });
}

export function wflwFlipPairs(): [number, number][] {
  return WFLW_FLIP_PAIRS.map(([a, b]) => [a, b]);
}

function range<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}
