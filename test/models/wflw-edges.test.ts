import { describe, expect, test } from 'vitest';
import { wflwEdges, WFLW_EDGE_GROUPS } from '../../tools/model-builder/wflw-edges.js';
import { WFLW_FLIP_PAIRS, WFLW_KEYPOINT_COUNT, WFLW_KEYPOINT_NAMES } from '../../tools/model-builder/wflw.js';

const key = ([a, b]: readonly [number, number]) => (a < b ? `${a}-${b}` : `${b}-${a}`);

describe('WFLW edges', () => {
  const edges = wflwEdges();

  test('every landmark but the pupils is drawn, each edge once, none joining a point to itself', () => {
    const touched = new Set(edges.flat());
    const missing = WFLW_KEYPOINT_NAMES.map((name, index) => ({ name, index })).filter(({ index }) => !touched.has(index));
    expect(missing.map(({ name }) => name)).toEqual(['right_pupil', 'left_pupil']);
    expect(edges.every(([a, b]) => a !== b && a < WFLW_KEYPOINT_COUNT && b < WFLW_KEYPOINT_COUNT)).toBe(true);
    expect(new Set(edges.map(key)).size).toBe(edges.length);
  });

  test('each group joins landmarks of one feature only, as their names say', () => {
    const feature: Record<keyof typeof WFLW_EDGE_GROUPS, RegExp> = {
      contour: /^contour_/,
      rightBrow: /^right_brow_/,
      leftBrow: /^left_brow_/,
      noseBridge: /^nose_bridge_/,
      noseBase: /^nose_(base|bridge_3$)/,
      rightEye: /^right_eye_/,
      leftEye: /^left_eye_/,
      mouthOuter: /^mouth_outer_/,
      mouthInner: /^mouth_inner_/,
    };
    for (const [group, pairs] of Object.entries(WFLW_EDGE_GROUPS)) {
      const pattern = feature[group as keyof typeof WFLW_EDGE_GROUPS];
      for (const [a, b] of pairs) expect([WFLW_KEYPOINT_NAMES[a], WFLW_KEYPOINT_NAMES[b]], group).toSatisfy((names: string[]) => names.every((n) => pattern.test(n)));
    }
  });

  test('the drawing is its own mirror image: flipping both ends of any edge gives an edge', () => {
    const flip = Array.from({ length: WFLW_KEYPOINT_COUNT }, (_, index) => index);
    for (const [a, b] of WFLW_FLIP_PAIRS) {
      flip[a] = b;
      flip[b] = a;
    }
    const present = new Set(edges.map(key));
    const unmatched = edges.filter(([a, b]) => !present.has(key([flip[a]!, flip[b]!])));
    expect(unmatched).toEqual([]);
  });

  test('brows, eyes and lips are closed loops; contour and nose bridge are open chains', () => {
    const degrees = (pairs: readonly (readonly [number, number])[]) => {
      const degree = new Map<number, number>();
      for (const [a, b] of pairs) for (const point of [a, b]) degree.set(point, (degree.get(point) ?? 0) + 1);
      return [...degree.values()].sort((x, y) => x - y);
    };
    for (const loop of ['rightBrow', 'leftBrow', 'rightEye', 'leftEye', 'mouthOuter', 'mouthInner'] as const) {
      expect(degrees(WFLW_EDGE_GROUPS[loop]).every((degree) => degree === 2), loop).toBe(true);
    }
    for (const chain of ['contour', 'noseBridge'] as const) {
      const sorted = degrees(WFLW_EDGE_GROUPS[chain]);
      expect(sorted.slice(0, 2), chain).toEqual([1, 1]);
      expect(sorted.slice(2).every((degree) => degree === 2), chain).toBe(true);
    }
  });
});
