/** Cameras as a request or a calibration file describes them, before they become projection models. */

export interface ProjectionCameraSpec {
  name: string;
  projection: number[][];
}

export interface IntrinsicsCameraSpec {
  name: string;
  matrix: number[][];
  rotation: number[] | number[][];
  translation: number[];
  distortions?: number[];
  size?: number[];
  fisheye?: boolean;
}

export type CameraSpec = ProjectionCameraSpec | IntrinsicsCameraSpec;

/**
 * A calibration the service cannot use. `path` names the offending value (a TOML `table.key`, or a
 * JSON location such as `cameras[2].name`); `line` is the calibration file's line where known.
 * `syntax` failures are text that is not TOML at all; `content` ones are values that are not a rig;
 * `limit` is a rig larger than the server takes.
 */
export class CalibrationError extends Error {
  override name = 'CalibrationError';
  constructor(
    message: string,
    readonly path: string,
    readonly line: number | null,
    readonly kind: 'syntax' | 'content' | 'limit' = 'content',
  ) {
    super(message);
  }
}

/** Where a camera's value came from, for error messages: a JSON path, or a calibration file's key and line. */
export type CameraLocator = (index: number, key: string | null) => { path: string; line: number | null };

export const jsonLocator =
  (source: string): CameraLocator =>
  (index, key) => ({ path: `${source}[${index}]${key === null ? '' : `.${key}`}`, line: null });
