import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';
import { buildCameraRig, rigFromCalibration } from '../../src/calibration/camera-rig.js';
import { CalibrationError } from '../../src/calibration/camera-spec.js';
import {
  calibrationToml,
  lookAtCamera,
  projectPoint,
  rodriguesMatrix,
  type SceneCamera,
  type Vec3,
} from '../helpers/multiview-scene.js';

const RIG: SceneCamera[] = [
  lookAtCamera('left', [-1, 0.3, 1.7], [0, 0, 0], {
    focal: 900,
    size: [1280, 720],
    distortions: [-0.12, 0.05, 0.002, -0.001, 0.01],
  }),
  lookAtCamera('right', [1.1, 0.2, 1.6], [0, 0, 0], { focal: 880, size: [1280, 720], distortions: [0.03, 0, 0, 0, 0] }),
  lookAtCamera('top', [0.1, 1.8, 0.9], [0, 0, 0], { focal: 950, size: [1024, 768], up: [0, 0, -1] }),
];
const POINTS: Vec3[] = [
  [0, 0, 0],
  [0.2, -0.1, 0.15],
  [-0.3, 0.25, -0.2],
];

const spec = (camera: SceneCamera) => ({
  name: camera.name,
  matrix: camera.matrix,
  rotation: camera.rotation,
  translation: camera.translation,
  distortions: [...camera.distortions],
  size: [...camera.size],
});

function refusal(work: () => unknown): CalibrationError {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof CalibrationError, `expected a CalibrationError, got ${String(error)}`);
    return error;
  }
  assert.fail('the rig was accepted');
}

describe('buildCameraRig / rigFromCalibration', () => {
  test('JSON specs and calibration.toml text build the same cameras, projecting as an independent OpenCV model does', () => {
    const fromJson = buildCameraRig(RIG.map(spec), 8);
    const fromToml = rigFromCalibration(calibrationToml(RIG), 8);
    assert.deepEqual([...fromJson.keys()], ['left', 'right', 'top']);
    assert.deepEqual([...fromToml.keys()], ['left', 'right', 'top']);
    for (const camera of RIG) {
      for (const point of POINTS) {
        const expected = projectPoint(camera, point);
        expect(Array.from(fromJson.get(camera.name)!.project(point))).toBeCloseToNested(expected, { abs: 1e-9 });
        expect(Array.from(fromToml.get(camera.name)!.project(point))).toBeCloseToNested(expected, { abs: 1e-9 });
      }
    }
  });

  test('a projection-matrix camera projects as K[R|t] does', () => {
    const camera = { ...RIG[2]!, distortions: [0, 0, 0, 0, 0] as SceneCamera['distortions'] };
    const r = rodriguesMatrix(camera.rotation);
    const projection = camera.matrix.map((k) =>
      [0, 1, 2, 3].map((j) => [0, 1, 2].reduce((sum, i) => sum + k[i]! * (j < 3 ? r[i]![j]! : camera.translation[i]!), 0)),
    );
    const rig = buildCameraRig([{ name: 'top', projection }], 8);
    for (const point of POINTS)
      expect(Array.from(rig.get('top')!.project(point))).toBeCloseToNested(projectPoint(camera, point), { abs: 1e-9 });
  });

  test('a name used twice is refused at the second camera', () => {
    const error = refusal(() => buildCameraRig([spec(RIG[0]!), spec(RIG[1]!), { ...spec(RIG[2]!), name: 'left' }], 8));
    assert.equal(error.path, 'cameras[2].name');
    assert.match(error.message, /"left" is used by an earlier camera/);
  });

  test('more cameras than the limit is a limit refusal before anything is built', () => {
    const error = refusal(() => buildCameraRig(RIG.map(spec), 2));
    assert.equal(error.kind, 'limit');
    assert.match(error.message, /^cameras: 3 cameras sent, more than the limit of 2/);
    assert.equal(error.path, 'cameras');
  });

  test('fisheye: true in JSON is refused, naming the camera’s key', () => {
    const error = refusal(() => buildCameraRig([spec(RIG[0]!), { ...spec(RIG[1]!), fisheye: true }], 8));
    assert.equal(error.path, 'cameras[1].fisheye');
  });

  test('a singular intrinsic matrix in a calibration file names its table key and line', () => {
    const text = calibrationToml(RIG)
      .replace(/matrix = \[ \[ 880,/, 'matrix = [ [ 0,')
      .replace('[ 0, 880,', '[ 0, 0,');
    const error = refusal(() => rigFromCalibration(text, 8));
    assert.equal(error.kind, 'content');
    assert.match(error.path, /^cam_1\.matrix/);
    assert.equal(error.line, 12);
    assert.match(error.message, /calibration line 12, key "cam_1\.matrix/);
  });
});
