import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { cameraFromIntrinsics, cameraFromProjection, rodrigues, type CameraIntrinsics } from '../../src/huber/camera.js';
import { EvidenceError } from '../../src/huber/fusion-errors.js';
import { createRng, type Rng } from '../helpers/prng.js';

function randomIntrinsics(rng: Rng): CameraIntrinsics {
  return {
    matrix: [
      [rng.range(800, 1500), rng.range(-2, 2), rng.range(600, 1000)],
      [0, rng.range(800, 1500), rng.range(400, 600)],
      [0, 0, 1],
    ],
    rotation: [rng.range(-0.5, 0.5), rng.range(-0.5, 0.5), rng.range(-0.5, 0.5)],
    translation: [rng.range(-100, 100), rng.range(-100, 100), rng.range(2000, 4000)],
    distortions: [
      rng.range(-0.3, 0.1),
      rng.range(-0.05, 0.05),
      rng.range(-0.002, 0.002),
      rng.range(-0.002, 0.002),
      rng.range(-0.01, 0.01),
    ],
  };
}

describe('rodrigues', () => {
  test('a quarter turn about z, by hand', () => {
    expect(rodrigues([0, 0, Math.PI / 2])).toBeCloseToNested([0, -1, 0, 1, 0, 0, 0, 0, 1], { abs: 1e-15 });
  });
  test('fixes its axis, turns the perpendicular plane by |ω|, and is orthonormal', () => {
    const rng = createRng(1);
    for (let trial = 0; trial < 20; trial++) {
      const omega = [rng.normal(), rng.normal(), rng.normal()];
      const angle = Math.hypot(...omega);
      const axis = omega.map((v) => v / angle);
      const r = rodrigues(omega);
      const apply = (v: number[]): number[] =>
        [0, 1, 2].map((i) => r[i * 3]! * v[0]! + r[i * 3 + 1]! * v[1]! + r[i * 3 + 2]! * v[2]!);
      expect(apply(axis)).toBeCloseToNested(axis, { abs: 1e-14 });
      // A unit vector perpendicular to the axis turns by exactly the angle.
      const helper = Math.abs(axis[0]!) < 0.9 ? [1, 0, 0] : [0, 1, 0];
      const cross = [
        axis[1]! * helper[2]! - axis[2]! * helper[1]!,
        axis[2]! * helper[0]! - axis[0]! * helper[2]!,
        axis[0]! * helper[1]! - axis[1]! * helper[0]!,
      ];
      const norm = Math.hypot(...cross);
      const perpendicular = cross.map((v) => v / norm);
      const turned = apply(perpendicular);
      const cosine = turned.reduce((s, v, i) => s + v * perpendicular[i]!, 0);
      expect(cosine).toBeCloseToNested(Math.cos(angle), { abs: 1e-14 });
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const dot = r[i * 3]! * r[j * 3]! + r[i * 3 + 1]! * r[j * 3 + 1]! + r[i * 3 + 2]! * r[j * 3 + 2]!;
          expect(dot).toBeCloseToNested(i === j ? 1 : 0, { abs: 1e-14 });
        }
      }
    }
  });
  test('is continuous through the small-angle series', () => {
    // Near 0, R = I + [ω]× + O(θ²) on both sides of the switch at θ = 1e-6.
    for (const scale of [0.9e-6, 1.1e-6]) {
      const [x, y, z] = [0.6 * scale, -0.48 * scale, 0.64 * scale];
      expect(rodrigues([x, y, z])).toBeCloseToNested([1, -z, y, z, 1, -x, -y, x, 1], { abs: 1e-12 });
    }
    expect(rodrigues([0, 0, 0])).toBeCloseToNested([1, 0, 0, 0, 1, 0, 0, 0, 1], { abs: 0 });
  });
});

describe('projection', () => {
  test('a hand-computed point with radial and tangential distortion', () => {
    const camera = cameraFromIntrinsics('a', {
      matrix: [
        [1000, 0, 320],
        [0, 1100, 240],
        [0, 0, 1],
      ],
      rotation: [0, 0, 0],
      translation: [0, 0, 0],
      distortions: [0.1, 0.01, 0.01, 0.02, 0.001],
    });
    // x' = 0.1, y' = 0.05, r² = 0.0125; radial = 1 + 0.1·0.0125 + 0.01·0.0125² + 0.001·0.0125³
    // = 1.001251564453125; x'' = 0.1·radial + 2·0.01·0.005 + 0.02·(0.0125 + 0.02) = 0.1008751564453125,
    // y'' = 0.05·radial + 0.01·(0.0125 + 0.005) + 2·0.02·0.005 = 0.05043757822265625.
    expect(camera.project([0.2, 0.1, 2])).toBeCloseToNested([320 + 100.8751564453125, 240 + 55.481336044921875], { rel: 1e-14 });
    expect(camera.depth([0.2, 0.1, 2])).toBe(2);
    expect(camera.depth([0.2, 0.1, -2])).toBe(-2);
  });

  test('the Jacobian matches central differences (intrinsics and projection matrices)', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 20; trial++) {
      const camera = cameraFromIntrinsics('c', randomIntrinsics(rng));
      const plain = cameraFromProjection(
        'p',
        [0, 1, 2].map(() => [0, 1, 2, 3].map(() => rng.normal())),
      );
      for (const cam of [camera, plain]) {
        const X = [rng.range(-300, 300), rng.range(-300, 300), rng.range(-300, 300)];
        const { point, jacobian } = cam.projectWithJacobian(X);
        expect(point).toBeCloseToNested(cam.project(X), { rel: 1e-15 });
        for (let j = 0; j < 3; j++) {
          const h = 1e-3;
          const plus = cam.project(X.map((v, i) => (i === j ? v + h : v)));
          const minus = cam.project(X.map((v, i) => (i === j ? v - h : v)));
          const numeric = [0, 1].map((i) => (plus[i]! - minus[i]!) / (2 * h));
          const scale = Math.max(Math.abs(jacobian[j]!), Math.abs(jacobian[3 + j]!), 1e-3);
          expect([jacobian[j], jacobian[3 + j]]).toBeCloseToNested(numeric, { abs: 1e-6 * scale });
        }
      }
    }
  });

  test('projectInto writes what projectWithJacobian returns, and the point alone when given no Jacobian buffer', () => {
    const rng = createRng(9);
    for (let trial = 0; trial < 20; trial++) {
      const camera = cameraFromIntrinsics('c', randomIntrinsics(rng));
      const plain = cameraFromProjection(
        'p',
        [0, 1, 2].map(() => [0, 1, 2, 3].map(() => rng.normal())),
      );
      for (const cam of [camera, plain]) {
        const X = [rng.range(-300, 300), rng.range(-300, 300), rng.range(-300, 300)];
        const expected = cam.projectWithJacobian(X);
        const point = new Float64Array(2).fill(Number.NaN);
        const jacobian = new Float64Array(6).fill(Number.NaN);
        cam.projectInto(X, point, jacobian);
        // project and projectWithJacobian hand projectInto fresh buffers: equal to the last bit, not just close.
        assert.deepEqual(Array.from(point), Array.from(expected.point));
        assert.deepEqual(Array.from(jacobian), Array.from(expected.jacobian));
        point.fill(Number.NaN);
        cam.projectInto(X, point, null);
        assert.deepEqual(Array.from(point), Array.from(cam.project(X)));
      }
    }
  });

  test('K·[R | t] as a projection matrix is the same camera without distortion, centre and depth included', () => {
    const rng = createRng(8);
    for (let trial = 0; trial < 10; trial++) {
      const intrinsics = { ...randomIntrinsics(rng), distortions: [0, 0, 0, 0] };
      const camera = cameraFromIntrinsics('c', intrinsics);
      const p = [0, 1, 2].map((i) => [0, 1, 2, 3].map((j) => camera.linear[i * 4 + j]));
      for (const sign of [1, -1]) {
        const matrixCamera = cameraFromProjection(
          'p',
          p.map((row) => row.map((v) => sign * v!)),
        );
        expect(matrixCamera.center).toBeCloseToNested(camera.center, { abs: 1e-9 });
        for (let k = 0; k < 5; k++) {
          const X = [rng.range(-500, 500), rng.range(-500, 500), rng.range(-500, 500)];
          expect(matrixCamera.project(X)).toBeCloseToNested(camera.project(X), { rel: 1e-12 });
          expect(matrixCamera.depth(X)).toBeCloseToNested(camera.depth(X), { rel: 1e-12 });
        }
      }
      // The centre is the one point with no image: P·[C; 1] = 0.
      const image = [0, 1, 2].map(
        (i) => p[i]![0]! * camera.center[0]! + p[i]![1]! * camera.center[1]! + p[i]![2]! * camera.center[2]! + p[i]![3]!,
      );
      expect(image).toBeCloseToNested([0, 0, 0], { abs: 1e-6 * Math.hypot(...p[0]!.map((v) => v!)) });
    }
  });

  test('rotation as a matrix equals rotation as a Rodrigues vector', () => {
    const rng = createRng(9);
    const intrinsics = randomIntrinsics(rng);
    const r = rodrigues(intrinsics.rotation as number[]);
    const asMatrix = cameraFromIntrinsics('m', {
      ...intrinsics,
      rotation: [0, 1, 2].map((i) => [r[i * 3]!, r[i * 3 + 1]!, r[i * 3 + 2]!]),
    });
    const asVector = cameraFromIntrinsics('v', intrinsics);
    expect(asMatrix.project([10, 20, 30])).toBeCloseToNested(asVector.project([10, 20, 30]), { rel: 1e-14 });
  });

  test('undistort inverts the distortion: it lands where the linear camera projects', () => {
    const rng = createRng(10);
    for (let trial = 0; trial < 20; trial++) {
      const camera = cameraFromIntrinsics('c', randomIntrinsics(rng));
      const X = [rng.range(-800, 800), rng.range(-500, 500), rng.range(-200, 200)];
      const p = camera.linear;
      const w = p[8]! * X[0]! + p[9]! * X[1]! + p[10]! * X[2]! + p[11]!;
      const linear = [0, 1].map((i) => (p[i * 4]! * X[0]! + p[i * 4 + 1]! * X[1]! + p[i * 4 + 2]! * X[2]! + p[i * 4 + 3]!) / w);
      expect(camera.undistort(camera.project(X))).toBeCloseToNested(linear, { abs: 1e-8 });
    }
  });
});

describe('bad cameras name the value', () => {
  const good: CameraIntrinsics = {
    matrix: [
      [1000, 0, 500],
      [0, 1000, 500],
      [0, 0, 1],
    ],
    rotation: [0, 0, 0],
    translation: [0, 0, 0],
  };
  test.each([
    [
      'a 2×3 matrix',
      {
        ...good,
        matrix: [
          [1, 0, 0],
          [0, 1, 0],
        ],
      },
      'matrix',
    ],
    [
      'a non-finite focal length',
      {
        ...good,
        matrix: [
          [Number.NaN, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
      },
      'matrix[0][0]',
    ],
    [
      'a non-rotation',
      {
        ...good,
        rotation: [
          [1, 0, 0],
          [0, 2, 0],
          [0, 0, 1],
        ],
      },
      'rotation',
    ],
    ['three distortions', { ...good, distortions: [0, 0, 0] }, 'distortions'],
    ['a short translation', { ...good, translation: [0, 0] }, 'translation'],
  ])('%s', (_, intrinsics, path) => {
    assert.throws(
      () => cameraFromIntrinsics('x', intrinsics as CameraIntrinsics),
      (error: unknown) => error instanceof EvidenceError && error.path === path,
    );
  });
  test('a singular projection matrix', () => {
    assert.throws(
      () =>
        cameraFromProjection('x', [
          [1, 0, 0, 0],
          [2, 0, 0, 0],
          [0, 0, 1, 0],
        ]),
      (error: unknown) => error instanceof EvidenceError && error.path === 'projection',
    );
  });
});
