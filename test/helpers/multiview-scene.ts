/**
 * Synthetic calibrated rigs for the multi-view tests: an OpenCV pinhole camera model written here from
 * its definition (Rodrigues rotation, perspective division, [k1, k2, p1, p2, k3] distortion, K), so
 * that the service's camera code is checked against an independent projection, plus images of 3-D
 * dots as each camera sees them and calibration.toml text in anipose's layout.
 */
import { dotImage } from './images.js';

export type Vec3 = [number, number, number];
export type Mat3 = [Vec3, Vec3, Vec3];

export interface SceneCamera {
  name: string;
  matrix: Mat3;
  /** Rodrigues vector of the world-to-camera rotation. */
  rotation: Vec3;
  translation: Vec3;
  distortions: [number, number, number, number, number];
  size: [number, number];
}

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((sum, value, i) => sum + value * (b[i] ?? 0), 0);
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const subtract = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const normalize = (a: Vec3): Vec3 => scale(a, 1 / Math.hypot(...a));

/** R = cos θ I + (1 − cos θ) k kᵀ + sin θ [k]×, the Rodrigues formula. */
export function rodriguesMatrix(vector: Vec3): Mat3 {
  const theta = Math.hypot(...vector);
  if (theta === 0) {
    return [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
  }
  const [x, y, z] = scale(vector, 1 / theta);
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const v = 1 - c;
  return [
    [c + x * x * v, x * y * v - z * s, x * z * v + y * s],
    [y * x * v + z * s, c + y * y * v, y * z * v - x * s],
    [z * x * v - y * s, z * y * v + x * s, c + z * z * v],
  ];
}

/** The Rodrigues vector of a rotation: from its antisymmetric part, or near a half turn from its diagonal. */
function rotationVector(r: Mat3): Vec3 {
  const theta = Math.acos(Math.min(1, Math.max(-1, (r[0][0] + r[1][1] + r[2][2] - 1) / 2)));
  if (theta < 1e-12) return [0, 0, 0];
  if (Math.PI - theta > 1e-6) {
    const axis: Vec3 = [r[2][1] - r[1][2], r[0][2] - r[2][0], r[1][0] - r[0][1]];
    return scale(axis, theta / (2 * Math.sin(theta)));
  }
  // R = 2kkᵀ − I at a half turn: the largest diagonal entry gives one component, its row the others.
  const i = [0, 1, 2].reduce((best, k) => (r[k]![k]! > r[best]![best]! ? k : best), 0);
  const ki = Math.sqrt((r[i]![i]! + 1) / 2);
  const axis = [0, 1, 2].map((k) => (k === i ? ki : r[i]![k]! / (2 * ki))) as Vec3;
  return scale(axis, theta);
}

/**
 * A camera at `centre` looking at `target`, with `up` (world +y by default) drawn upward in the image:
 * the rows of R are the camera's right, down and forward axes in world coordinates, t = −R·centre.
 */
export function lookAtCamera(
  name: string,
  centre: Vec3,
  target: Vec3,
  options: { focal: number; size: [number, number]; distortions?: SceneCamera['distortions']; up?: Vec3 },
): SceneCamera {
  const forward = normalize(subtract(target, centre));
  const up = options.up ?? [0, 1, 0];
  const right = normalize(cross(forward, up));
  const down = cross(forward, right);
  const r: Mat3 = [right, down, forward];
  const [width, height] = options.size;
  return {
    name,
    matrix: [
      [options.focal, 0, width / 2 - 0.5],
      [0, options.focal, height / 2 - 0.5],
      [0, 0, 1],
    ],
    rotation: rotationVector(r),
    translation: scale([dot(r[0], centre), dot(r[1], centre), dot(r[2], centre)], -1),
    distortions: options.distortions ?? [0, 0, 0, 0, 0],
    size: options.size,
  };
}

/** World point → camera frame x_c = R X + t. */
/** Four cameras about 2 m from the origin on an arc, looking at it, two of them with lens distortion. */
export const ARC_RIG: readonly SceneCamera[] = [
  lookAtCamera('north', [-1.2, 0.4, 1.55], [0, 0, 0], {
    focal: 700,
    size: [640, 480],
    distortions: [-0.08, 0.02, 0.001, -0.0005, 0.004],
  }),
  lookAtCamera('east', [-0.4, 0.3, 1.93], [0, 0, 0], { focal: 650, size: [640, 480] }),
  lookAtCamera('south', [0.5, -0.2, 1.92], [0, 0, 0], { focal: 720, size: [800, 600], distortions: [0.05, -0.01, 0, 0, 0] }),
  lookAtCamera('west', [1.3, 0.5, 1.42], [0, 0, 0], { focal: 680, size: [640, 480] }),
];
/** Mean distance of ARC_RIG's camera centres from the origin, in metres. */
export const ARC_RIG_SCALE = 2;

export function cameraFrame(camera: SceneCamera, point: readonly number[]): Vec3 {
  const r = rodriguesMatrix(camera.rotation);
  return [
    dot(r[0], point) + camera.translation[0],
    dot(r[1], point) + camera.translation[1],
    dot(r[2], point) + camera.translation[2],
  ];
}

/** OpenCV's projectPoints for one point: perspective division, radial and tangential distortion, then K. */
export function projectPoint(camera: SceneCamera, point: readonly number[]): [number, number] {
  const [xc, yc, zc] = cameraFrame(camera, point);
  const x = xc / zc;
  const y = yc / zc;
  const [k1, k2, p1, p2, k3] = camera.distortions;
  const r2 = x * x + y * y;
  const radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2;
  const xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
  const yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
  const k = camera.matrix;
  return [k[0][0] * xd + k[0][1] * yd + k[0][2], k[1][1] * yd + k[1][2]];
}

/** ∂π/∂X (2×3, row-major rows) by central differences of `projectPoint`. */
export function projectionJacobian(camera: SceneCamera, point: readonly number[], step = 1e-6): number[][] {
  const rows = [
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let j = 0; j < 3; j++) {
    const plus = [...point];
    const minus = [...point];
    plus[j] = (plus[j] ?? 0) + step;
    minus[j] = (minus[j] ?? 0) - step;
    const a = projectPoint(camera, plus);
    const b = projectPoint(camera, minus);
    rows[0]![j] = (a[0] - b[0]) / (2 * step);
    rows[1]![j] = (a[1] - b[1]) / (2 * step);
  }
  return rows;
}

/** The rig as anipose's CameraGroup.dump writes calibration.toml (table keys cam_i, trailing commas). */
export function calibrationToml(cameras: readonly SceneCamera[]): string {
  const list = (values: readonly number[]) => `[ ${values.map((value) => String(value)).join(', ')},]`;
  const tables = cameras.map(
    (camera, index) =>
      `[cam_${index}]\nname = "${camera.name}"\nsize = ${list(camera.size)}\n` +
      `matrix = [ ${camera.matrix.map(list).join(', ')},]\ndistortions = ${list(camera.distortions)}\n` +
      `rotation = ${list(camera.rotation)}\ntranslation = ${list(camera.translation)}\n`,
  );
  return `${tables.join('\n')}\n[metadata]\nadjusted = false\nerror = 0.0\n`;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A square box centred between the projected points, with room for each dot inside its half of the crop. */
export function boxAround(points: ReadonlyArray<readonly [number, number]>, margin: number): Box {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
  const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const side = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) + 2 * margin;
  return { x: cx - side / 2, y: cy - side / 2, width: side, height: side };
}

/** The camera's PNG of white Gaussian dots (σ pixels) at the projections of `points`. */
export function renderDots(camera: SceneCamera, points: readonly Vec3[], sigma: number): Promise<Buffer> {
  const dots = points.map((point) => {
    const [x, y] = projectPoint(camera, point);
    return { x, y, sigma };
  });
  return dotImage(camera.size[0], camera.size[1], dots);
}
