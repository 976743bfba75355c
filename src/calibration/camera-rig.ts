import { cameraFromIntrinsics, cameraFromProjection, type Camera } from '../huber/camera.js';
import { EvidenceError } from '../huber/fusion-errors.js';
import { parseCalibrationToml } from './calibration-toml.js';
import { CalibrationError, jsonLocator, type CameraLocator, type CameraSpec } from './camera-spec.js';

function located(locate: CameraLocator, index: number, key: string | null, reason: string): CalibrationError {
  const { path, line } = locate(index, key);
  const where = line === null ? path : `calibration line ${line}, key "${path}"`;
  return new CalibrationError(`${where}: ${reason}`, path, line);
}

/** A camera error's key relative to its camera (`matrix`, `rotation[1]`), as the math names it. */
function relativeKey(path: string): string | null {
  const key = path.replace(/^cameras?(\[\d+\])?\.?/, '');
  return key === '' ? null : key;
}

/** The schema and the TOML reader both admit exactly two numbers; a missing one would be refused as NaN. */
const pair = (values: readonly number[]): [number, number] => [values[0] ?? Number.NaN, values[1] ?? Number.NaN];

function toCamera(spec: CameraSpec): Camera {
  if ('projection' in spec) return cameraFromProjection(spec.name, spec.projection);
  const { matrix, rotation, translation, distortions, size } = spec;
  return cameraFromIntrinsics(spec.name, {
    matrix,
    rotation,
    translation,
    ...(distortions === undefined ? {} : { distortions }),
    ...(size === undefined ? {} : { size: pair(size) }),
  });
}

/**
 * The cameras of one request, by name (docs/spec.md §9). Names must be unique because observations
 * refer to cameras by name alone; every refusal names the camera's value by `locate` (JSON paths under
 * `source` by default).
 */
export function buildCameraRig(
  specs: readonly CameraSpec[],
  maxCameras: number,
  source = 'cameras',
  locate: CameraLocator = jsonLocator(source),
): Map<string, Camera> {
  if (specs.length > maxCameras) {
    throw new CalibrationError(
      `${source}: ${specs.length} cameras sent, more than the limit of ${maxCameras}`,
      source,
      null,
      'limit',
    );
  }
  const rig = new Map<string, Camera>();
  specs.forEach((spec, index) => {
    if (rig.has(spec.name))
      throw located(locate, index, 'name', `camera name "${spec.name}" is used by an earlier camera; names must be unique`);
    if ('fisheye' in spec && spec.fisheye === true) {
      throw located(locate, index, 'fisheye', 'fisheye cameras are not supported; only the OpenCV pinhole model is');
    }
    try {
      rig.set(spec.name, toCamera(spec));
    } catch (error) {
      if (error instanceof EvidenceError) throw located(locate, index, relativeKey(error.path), error.message);
      throw error;
    }
  });
  return rig;
}

/** The rig from a calibration.toml's text: parse failures and unusable cameras both name line and key. */
export function rigFromCalibration(text: string, maxCameras: number): Map<string, Camera> {
  const { cameras, locate } = parseCalibrationToml(text);
  return buildCameraRig(cameras, maxCameras, 'calibration', locate);
}

/**
 * A request's cameras as it sent them: JSON specs (named under `source` in messages) or calibration.toml
 * text. Plain data, so the same rig can be rebuilt where the triangulation runs (a worker thread).
 */
export type RigSource = { cameras: readonly CameraSpec[]; source: string } | { calibration: string };

export function rigFromSource(rig: RigSource, maxCameras: number): Map<string, Camera> {
  if ('calibration' in rig) return rigFromCalibration(rig.calibration, maxCameras);
  return buildCameraRig(rig.cameras, maxCameras, rig.source);
}
