/**
 * A synthetic 4-camera rig at realistic distances (millimetres): cameras 2.6–3.4 m from the origin,
 * looking at it, 1920 × 1080 with f ≈ 1200 px and mild OpenCV distortion.
 */
import type { CameraIntrinsics } from '../../src/huber/camera.js';

function cross(a: readonly number[], b: readonly number[]): number[] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}

function unit(v: readonly number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** R (rows x, y, z of the camera in world coordinates) and t = −R·eye for a camera at `eye` aimed at the origin. */
export function lookAt(eye: readonly number[]): { rotation: number[][]; translation: number[] } {
  const z = unit(eye.map((v) => -v));
  const x = unit(cross([0, 0, 1], z));
  const y = cross(z, x);
  const rotation = [x, y, z];
  return { rotation, translation: rotation.map((row) => -(row[0]! * eye[0]! + row[1]! * eye[1]! + row[2]! * eye[2]!)) };
}

/** Azimuths 20°, 75°, 140°, 215° (a typical capture volume is ringed unevenly), 2.6–3.4 m away. */
export const RIG_EYES: readonly (readonly number[])[] = [
  [20, 3000, 800],
  [75, 3400, 1100],
  [140, 2600, 700],
  [215, 3200, 1300],
].map(([azimuth, radius, height]) => {
  const angle = (azimuth! * Math.PI) / 180;
  return [radius! * Math.cos(angle), radius! * Math.sin(angle), height!];
});

export function rigIntrinsics(): { name: string; intrinsics: CameraIntrinsics }[] {
  return RIG_EYES.map((eye, i) => {
    const { rotation, translation } = lookAt(eye);
    return {
      name: `cam${i}`,
      intrinsics: {
        matrix: [
          [1180 + 20 * i, 0, 960 + 5 * i],
          [0, 1185 + 20 * i, 540 - 4 * i],
          [0, 0, 1],
        ],
        rotation,
        translation,
        distortions: [-0.08 + 0.01 * i, 0.02, 0.0005, -0.0003, -0.002],
        size: [1920, 1080],
      },
    };
  });
}
