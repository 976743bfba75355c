import { parse, TomlError } from 'smol-toml';
import { CalibrationError, type CameraLocator, type IntrinsicsCameraSpec } from './camera-spec.js';

/**
 * Reads an anipose / Pose2Sim `calibration.toml` (docs/spec.md §9): one table per camera with `name`,
 * `size`, `matrix`, `distortions`, `rotation` (Rodrigues), `translation` and optionally `fisheye`.
 * Observations refer to a camera by its `name`, not by its table key, because anipose's keys are
 * positional (`cam_0`, `cam_1`) while its names are what its 2-D detections carry.
 */

const KNOWN_KEYS = new Set(['name', 'size', 'matrix', 'distortions', 'rotation', 'translation', 'fisheye']);
const SKIPPED_TABLES = new Set(['metadata']);

const headerPattern = /^\s*\[\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*\]/;
const keyPattern = /^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=/;

function matchName(match: RegExpExecArray | null): string | null {
  if (!match) return null;
  return match[1] ?? match[2] ?? match[3] ?? null;
}

/**
 * Where each `table.key` of a calibration file is written, so that content errors can name a line
 * as well as a key. Only the flat layout calibration files use is indexed; a key written any other
 * way is still checked, just reported without a line.
 */
function indexKeyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let table = '';
  text.split(/\r?\n/).forEach((line, index) => {
    const header = matchName(headerPattern.exec(line));
    if (header !== null) {
      table = header;
      lines.set(table, index + 1);
      return;
    }
    const key = matchName(keyPattern.exec(line));
    if (key !== null) lines.set(table === '' ? key : `${table}.${key}`, index + 1);
  });
  return lines;
}

/** The key a syntax error belongs to: the nearest `key =` at or above its line (arrays span lines). */
function keyAtLine(text: string, lineNumber: number): string | null {
  const lines = text.split(/\r?\n/);
  for (let index = Math.min(lineNumber, lines.length) - 1; index >= 0; index--) {
    const line = lines[index] ?? '';
    const key = matchName(keyPattern.exec(line));
    if (key !== null) {
      for (let above = index - 1; above >= 0; above--) {
        const header = matchName(headerPattern.exec(lines[above] ?? ''));
        if (header !== null) return `${header}.${key}`;
      }
      return key;
    }
    const header = matchName(headerPattern.exec(line));
    if (header !== null) return header;
  }
  return null;
}

type TomlRecord = Record<string, unknown>;

const isTable = (value: unknown): value is TomlRecord => value !== null && typeof value === 'object' && !Array.isArray(value);

class FieldReader {
  constructor(
    private readonly table: string,
    private readonly values: TomlRecord,
    private readonly lines: Map<string, number>,
  ) {}

  fail(key: string | null, reason: string): never {
    const path = key === null ? this.table : `${this.table}.${key}`;
    const line = this.lines.get(path) ?? this.lines.get(this.table);
    throw new CalibrationError(
      `calibration ${line === undefined ? '' : `line ${line}, `}key "${path}": ${reason}`,
      path,
      line ?? null,
    );
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  number(value: unknown, key: string, what: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value))
      this.fail(key, `${what} must be a finite number, got ${String(value)}`);
    return value;
  }

  vector(key: string, lengths: readonly number[]): number[] {
    const value = this.values[key];
    if (!Array.isArray(value) || !lengths.includes(value.length)) {
      this.fail(key, `must be an array of ${lengths.join(' or ')} numbers, got ${JSON.stringify(value)}`);
    }
    return value.map((entry, index) => this.number(entry, key, `entry ${index}`));
  }

  matrix(key: string, rows: number, columns: number): number[][] {
    const value = this.values[key];
    if (!Array.isArray(value) || value.length !== rows || !value.every((row) => Array.isArray(row) && row.length === columns)) {
      this.fail(key, `must be a ${rows}×${columns} array of arrays, got ${JSON.stringify(value)}`);
    }
    return value.map((row: unknown[], r) => row.map((entry, c) => this.number(entry, key, `entry [${r}][${c}]`)));
  }

  rotation(): number[] | number[][] {
    const value = this.values.rotation;
    if (Array.isArray(value) && value.length === 3 && value.every(Array.isArray)) return this.matrix('rotation', 3, 3);
    if (Array.isArray(value) && value.length === 3) return this.vector('rotation', [3]);
    return this.fail('rotation', `must be a Rodrigues 3-vector or a 3×3 matrix, got ${JSON.stringify(value)}`);
  }
}

function readCamera(table: string, values: TomlRecord, lines: Map<string, number>): IntrinsicsCameraSpec {
  const reader: FieldReader = new FieldReader(table, values, lines);
  for (const key of Object.keys(values)) {
    if (!KNOWN_KEYS.has(key)) reader.fail(key, `unknown key; a camera table holds ${[...KNOWN_KEYS].join(', ')}`);
  }
  if (values.fisheye !== undefined && typeof values.fisheye !== 'boolean') reader.fail('fisheye', 'must be true or false');
  if (values.fisheye === true) reader.fail('fisheye', 'fisheye cameras are not supported; only the OpenCV pinhole model is');
  const name = values.name;
  if (typeof name !== 'string' || name === '') reader.fail('name', 'every camera table needs a non-empty string `name`');
  for (const key of ['matrix', 'rotation', 'translation']) {
    if (!reader.has(key)) reader.fail(null, `camera "${name}" has no \`${key}\``);
  }
  const camera: IntrinsicsCameraSpec = {
    name,
    matrix: reader.matrix('matrix', 3, 3),
    rotation: reader.rotation(),
    translation: reader.vector('translation', [3]),
  };
  if (reader.has('distortions')) camera.distortions = reader.vector('distortions', [4, 5]);
  if (reader.has('size')) camera.size = reader.vector('size', [2]);
  return camera;
}

export interface CalibrationFile {
  cameras: IntrinsicsCameraSpec[];
  /** The table key and line of camera `index`'s `key`, for errors found after parsing. */
  locate: CameraLocator;
}

/** The cameras of a calibration file, in file order; every failure names a line and a key. */
export function parseCalibrationToml(text: string): CalibrationFile {
  let document: TomlRecord;
  try {
    document = parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const key = keyAtLine(text, error.line);
    const reason = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? error.message;
    throw new CalibrationError(
      `calibration does not parse: line ${error.line}, column ${error.column}${key === null ? '' : `, key "${key}"`}: ${reason}`,
      key ?? `line ${error.line}`,
      error.line,
      'syntax',
    );
  }
  const lines = indexKeyLines(text);
  const cameras: IntrinsicsCameraSpec[] = [];
  const tables: string[] = [];
  for (const [table, values] of Object.entries(document)) {
    if (SKIPPED_TABLES.has(table)) continue;
    if (!isTable(values)) {
      const line = lines.get(table);
      throw new CalibrationError(
        `calibration ${line === undefined ? '' : `line ${line}, `}key "${table}": expected a camera table, got ${JSON.stringify(values)}`,
        table,
        line ?? null,
      );
    }
    cameras.push(readCamera(table, values, lines));
    tables.push(table);
  }
  if (cameras.length === 0) throw new CalibrationError('calibration holds no camera tables', '(root)', null);
  const locate: CameraLocator = (index, key) => {
    const table = tables[index] ?? '';
    const path = key === null ? table : `${table}.${key}`;
    return { path, line: lines.get(path) ?? lines.get(table) ?? null };
  };
  return { cameras, locate };
}
