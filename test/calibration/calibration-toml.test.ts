import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';
import { parseCalibrationToml } from '../../src/calibration/calibration-toml.js';
import { CalibrationError } from '../../src/calibration/camera-spec.js';

/** As aniposelib's CameraGroup.dump writes it (toml.dump of get_dicts(): trailing commas, [metadata] last). */
const ANIPOSE = `[cam_0]
name = "A"
size = [ 1920, 1080,]
matrix = [ [ 1402.5, 0.0, 959.5,], [ 0.0, 1401.25, 539.5,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.112, 0.0431, 0.0004, -0.0002, 0.0,]
rotation = [ 0.0123, -0.4711, 0.0033,]
translation = [ 412.7, -3.1, 98.25,]

[cam_1]
name = "B"
size = [ 1920, 1080,]
matrix = [ [ 1398.0, 0.0, 960.5,], [ 0.0, 1399.0, 540.5,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.1, 0.04, 0.0, 0.0, 0.001,]
rotation = [ 0.0, 0.5, 0.0,]
translation = [ -400.0, 0.0, 100.0,]

[metadata]
adjusted = false
error = 0.8324
`;

/** As Pose2Sim writes Calib_*.toml: four distortions, float sizes, `fisheye = false`, keys that differ from names. */
const POSE2SIM = `[int_cam01_img]
name = "cam01"
size = [ 1088.0, 1920.0]
matrix = [ [ 1681.2, 0.0, 540.6], [ 0.0, 1677.0, 951.8], [ 0.0, 0.0, 1.0]]
distortions = [ -0.0477, 0.0627, -0.0009, 0.0006]
rotation = [ 1.6, 0.6, -0.5]
translation = [ 0.77, 0.17, 4.04]
fisheye = false

[int_cam02_img]
name = "cam02"
size = [ 1088.0, 1920.0]
matrix = [ [ 1690.0, 0.0, 544.0], [ 0.0, 1690.0, 960.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
rotation = [ [ 1.0, 0.0, 0.0], [ 0.0, 1.0, 0.0], [ 0.0, 0.0, 1.0]]
translation = [ -0.5, 0.1, 3.9]
fisheye = false

[metadata]
adjusted = false
error = 0.0
`;

function refusal(text: string): CalibrationError {
  try {
    parseCalibrationToml(text);
  } catch (error) {
    assert.ok(error instanceof CalibrationError, `expected a CalibrationError, got ${String(error)}`);
    return error;
  }
  assert.fail('the calibration was accepted');
}

describe('parseCalibrationToml', () => {
  test('reads an anipose calibration: names, not table keys, and every field as written; [metadata] skipped', () => {
    const { cameras } = parseCalibrationToml(ANIPOSE);
    assert.deepEqual(
      cameras.map((camera) => camera.name),
      ['A', 'B'],
    );
    assert.deepEqual(cameras[0], {
      name: 'A',
      size: [1920, 1080],
      matrix: [
        [1402.5, 0, 959.5],
        [0, 1401.25, 539.5],
        [0, 0, 1],
      ],
      distortions: [-0.112, 0.0431, 0.0004, -0.0002, 0],
      rotation: [0.0123, -0.4711, 0.0033],
      translation: [412.7, -3.1, 98.25],
    });
    assert.deepEqual(cameras[1]?.distortions, [-0.1, 0.04, 0, 0, 0.001]);
  });

  test('reads a Pose2Sim calibration: four distortions, fisheye = false, a 3×3 rotation matrix', () => {
    const { cameras } = parseCalibrationToml(POSE2SIM);
    assert.deepEqual(
      cameras.map((camera) => camera.name),
      ['cam01', 'cam02'],
    );
    assert.deepEqual(cameras[0]?.distortions, [-0.0477, 0.0627, -0.0009, 0.0006]);
    assert.deepEqual(cameras[0]?.size, [1088, 1920]);
    assert.deepEqual(cameras[1]?.rotation, [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
  });

  test('locate names a camera value by its table key and line', () => {
    const { locate } = parseCalibrationToml(ANIPOSE);
    assert.deepEqual(locate(1, 'rotation'), { path: 'cam_1.rotation', line: 14 });
    assert.deepEqual(locate(0, null), { path: 'cam_0', line: 1 });
  });

  test('text that is not TOML is a syntax error naming its line and the key being read', () => {
    const broken = ANIPOSE.replace('rotation = [ 0.0, 0.5, 0.0,]', 'rotation = [ 0.0, 0.5 0.0,]');
    const error = refusal(broken);
    assert.equal(error.kind, 'syntax');
    assert.equal(error.line, 14);
    assert.equal(error.path, 'cam_1.rotation');
    expect(error.message).toMatch(/line 14, column \d+, key "cam_1\.rotation"/);
  });

  test('a syntax error inside an array written over several lines names the key that opened it', () => {
    const text = '[cam_0]\nname = "A"\nmatrix = [\n  [1, 0, 0],\n  [0, 1, 0]\n  [0, 0, 1],\n]\n';
    const error = refusal(text);
    assert.equal(error.kind, 'syntax');
    assert.equal(error.line, 6);
    assert.equal(error.path, 'cam_0.matrix');
  });

  test('fisheye = true is refused as unsupported, naming line and key', () => {
    const error = refusal(POSE2SIM.replace('fisheye = false\n\n[int_cam02_img]', 'fisheye = true\n\n[int_cam02_img]'));
    assert.equal(error.kind, 'content');
    assert.equal(error.path, 'int_cam01_img.fisheye');
    assert.equal(error.line, 8);
    expect(error.message).toMatch(/fisheye cameras are not supported/);
  });

  const contentCases: Array<{ label: string; text: string; path: string; line: number | null; message: RegExp }> = [
    {
      label: 'a camera without a name',
      text: ANIPOSE.replace('name = "B"\n', ''),
      path: 'cam_1.name',
      line: 9,
      message: /non-empty string `name`/,
    },
    {
      label: 'a matrix with a missing row',
      text: ANIPOSE.replace('[ 0.0, 1401.25, 539.5,], ', ''),
      path: 'cam_0.matrix',
      line: 4,
      message: /3×3/,
    },
    {
      label: 'a non-finite entry (TOML allows inf and nan)',
      text: ANIPOSE.replace('translation = [ -400.0, 0.0, 100.0,]', 'translation = [ -400.0, nan, 100.0,]'),
      path: 'cam_1.translation',
      line: 15,
      message: /entry 1 must be a finite number/,
    },
    {
      label: 'six distortion coefficients',
      text: ANIPOSE.replace('[ -0.1, 0.04, 0.0, 0.0, 0.001,]', '[ -0.1, 0.04, 0.0, 0.0, 0.001, 0.2,]'),
      path: 'cam_1.distortions',
      line: 13,
      message: /4 or 5 numbers/,
    },
    {
      label: 'a string where numbers belong',
      text: ANIPOSE.replace('rotation = [ 0.0123, -0.4711, 0.0033,]', 'rotation = "identity"'),
      path: 'cam_0.rotation',
      line: 6,
      message: /Rodrigues 3-vector or a 3×3 matrix/,
    },
    {
      label: 'an unknown key',
      text: ANIPOSE.replace('name = "A"\n', 'name = "A"\nprojection = [1, 2]\n'),
      path: 'cam_0.projection',
      line: 3,
      message: /unknown key/,
    },
    {
      label: 'a camera without a translation',
      text: ANIPOSE.replace('translation = [ 412.7, -3.1, 98.25,]\n', ''),
      path: 'cam_0',
      line: 1,
      message: /has no `translation`/,
    },
    {
      label: 'a top-level value that is not a table',
      text: 'version = 2\n' + ANIPOSE,
      path: 'version',
      line: 1,
      message: /expected a camera table/,
    },
    { label: 'no cameras at all', text: '[metadata]\nerror = 0.5\n', path: '(root)', line: null, message: /no camera tables/ },
  ];

  for (const { label, text, path, line, message } of contentCases) {
    test(`refuses ${label}, naming the key${line === null ? '' : ' and its line'}`, () => {
      const error = refusal(text);
      assert.equal(error.kind, 'content');
      assert.equal(error.path, path);
      assert.equal(error.line, line);
      expect(error.message).toMatch(message);
      if (line !== null) expect(error.message).toContain(`line ${line}`);
    });
  }
});
