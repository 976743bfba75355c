// WFLW's 98 landmarks: names, flip pairs (SPEC §7) and a synthetic mean face
// used as the landmark normalization constants of the untrained default model.
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

export const SYNTHETIC_CROP_SIZE = 224;
/** Whitening scale s of the synthetic constants, H_k = (1/s)·I, in 224-px crop pixels. */
export const SYNTHETIC_WHITENING_PX = 16;

// Hand-placed points of the image-left half of a frontal face and of the
// midline, in a 224-px crop whose side is the face box diagonal (the box spans
// about 33…191). The image-right half is their mirror through the flip pairs,
// so the layout is exactly symmetric and consistent with WFLW_FLIP_PAIRS.
const LEFT_AND_MIDLINE: Record<number, [number, number]> = (() => {
  const pts: Record<number, [number, number]> = {};
  // Jaw: lower half-ellipse from ear level (0) to the chin (16).
  for (let i = 0; i <= 16; i++) {
    const t = (i * Math.PI) / 32;
    pts[i] = [112 - 72 * Math.cos(t), 100 + 90 * Math.sin(t)];
  }
  Object.assign(pts, {
    // right brow: upper edge outer→inner, then lower edge inner→outer
    33: [60, 82],
    34: [68, 74],
    35: [79, 71],
    36: [90, 72],
    37: [101, 76],
    38: [100, 81],
    39: [89, 78],
    40: [78, 77],
    41: [67, 79],
    51: [112, 90],
    52: [112, 102],
    53: [112, 114],
    54: [112, 126],
    55: [97, 132],
    56: [104, 135],
    57: [112, 137],
    // right eye: outer corner, upper lid, inner corner, lower lid
    60: [70, 96],
    61: [77, 91],
    62: [84, 89],
    63: [91, 91],
    64: [98, 96],
    65: [91, 99],
    66: [84, 100],
    67: [77, 99],
    76: [86, 160],
    77: [95, 154],
    78: [104, 151],
    79: [112, 153],
    85: [112, 173],
    86: [104, 171],
    87: [95, 168],
    88: [91, 160],
    89: [102, 158],
    90: [112, 159],
    94: [112, 164],
    95: [102, 163],
    96: [84, 95],
  } satisfies Record<number, [number, number]>);
  return pts;
})();

/** Synthetic mean face, 98 points in an S-px crop (scaled from the 224-px layout). */
export function wflwSyntheticMeanShape(inputSize = SYNTHETIC_CROP_SIZE): [number, number][] {
  const partner = new Map<number, number>();
  for (const [a, b] of WFLW_FLIP_PAIRS) {
    partner.set(a, b);
    partner.set(b, a);
  }
  const f = inputSize / SYNTHETIC_CROP_SIZE;
  return range(WFLW_KEYPOINT_COUNT, (k) => {
    const own = LEFT_AND_MIDLINE[k];
    const p: [number, number] = own
      ? own
      : (() => {
          const m = LEFT_AND_MIDLINE[partner.get(k) ?? -1];
          if (!m) throw new Error(`no synthetic position for WFLW landmark ${k}`);
          return [SYNTHETIC_CROP_SIZE - m[0], m[1]];
        })();
    return [round4(p[0] * f), round4(p[1] * f)];
  });
}

/** Manifest keypoints: names, synthetic means and whitening (1/s)·I, s scaled to the crop. */
export function wflwManifestKeypoints(inputSize = SYNTHETIC_CROP_SIZE): ManifestKeypoint[] {
  const h = SYNTHETIC_CROP_SIZE / (SYNTHETIC_WHITENING_PX * inputSize);
  const mean = wflwSyntheticMeanShape(inputSize);
  return WFLW_KEYPOINT_NAMES.map((name, k) => ({
    name,
    mean: mean[k],
    whitening: [
      [h, 0],
      [0, h],
    ],
  }));
}

export function wflwFlipPairs(): [number, number][] {
  return WFLW_FLIP_PAIRS.map(([a, b]) => [a, b]);
}

function range<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
