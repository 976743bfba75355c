/**
 * WFLW's `list_98pt_rect_attr_{train,test}.txt` (docs/spec.md §10): per line 196 coordinates, x_min y_min x_max
 * y_max, six 0/1 attribute flags and the image's relative path, separated by whitespace.
 */
import { interOcularDistance, WFLW_INTEROCULAR } from './face-alignment-metrics.js';
import {
  WFLW_ATTRIBUTES,
  type AnnotationProblem,
  type LabelledInstance,
  type LabelledSet,
  type WflwAttribute,
} from './labelled-set.js';

export const WFLW_LANDMARKS = 98;
const COORDINATES = 2 * WFLW_LANDMARKS;
const FIELDS = COORDINATES + 4 + WFLW_ATTRIBUTES.length + 1;

class LineError extends Error {}

function parseNumber(text: string, what: string): number {
  // Number('') is 0 and Number(' 1') is 1; a field is never empty here, but `1e3x` or `NaN` must not pass.
  const value = Number(text);
  if (!Number.isFinite(value)) throw new LineError(`${what} is not a finite number: ${JSON.stringify(text)}`);
  return value;
}

function parseFlag(text: string, attribute: WflwAttribute): boolean {
  // Read as an integer: the reference parser's bool('0') made every flag true (docs/spec.md §8).
  if (text !== '0' && text !== '1') throw new LineError(`attribute ${attribute} must be 0 or 1, got ${JSON.stringify(text)}`);
  return text === '1';
}

function parseLine(fields: string[], source: string): LabelledInstance {
  if (fields.length !== FIELDS) {
    throw new LineError(
      `expected ${FIELDS} fields (${COORDINATES} coordinates, 4 box values, ${WFLW_ATTRIBUTES.length} attribute flags, the image path), got ${fields.length}`,
    );
  }
  const points = fields
    .slice(0, COORDINATES)
    .map((text, i) => parseNumber(text, `landmark ${i >> 1} ${i % 2 === 0 ? 'x' : 'y'}`));
  const [xMin, yMin, xMax, yMax] = fields
    .slice(COORDINATES, COORDINATES + 4)
    .map((text, i) => parseNumber(text, ['x_min', 'y_min', 'x_max', 'y_max'][i]!)) as [number, number, number, number];
  if (!(xMax > xMin && yMax > yMin)) {
    throw new LineError(
      `box x_min ${xMin} y_min ${yMin} x_max ${xMax} y_max ${yMax} is empty (needs x_max > x_min and y_max > y_min)`,
    );
  }
  if (!(interOcularDistance(points) > 0)) {
    throw new LineError(
      `landmarks ${WFLW_INTEROCULAR[0]} and ${WFLW_INTEROCULAR[1]} (the outer eye corners) coincide, so NME has no normalizer`,
    );
  }
  const flags = fields.slice(COORDINATES + 4, COORDINATES + 4 + WFLW_ATTRIBUTES.length);
  const attributes = Object.fromEntries(WFLW_ATTRIBUTES.map((name, i) => [name, parseFlag(flags[i]!, name)])) as Record<
    WflwAttribute,
    boolean
  >;
  return {
    source,
    image: fields[FIELDS - 1]!,
    box: { x: xMin, y: yMin, width: xMax - xMin, height: yMax - yMin },
    points,
    labelled: new Array<boolean>(WFLW_LANDMARKS).fill(true),
    attributes,
  };
}

/** Parses the file's text; every bad line becomes a problem naming `file:line` and the run keeps the rest. */
export function parseWflwAnnotations(text: string, file: string): LabelledSet {
  const instances: LabelledInstance[] = [];
  const problems: AnnotationProblem[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const fields = line
      .trim()
      .split(/\s+/)
      .filter((field) => field.length > 0);
    if (fields.length === 0) return;
    const source = `${file}:${index + 1}`;
    try {
      instances.push(parseLine(fields, source));
    } catch (error) {
      if (!(error instanceof LineError)) throw error;
      const problem: AnnotationProblem = { source, reason: `${source}: ${error.message}` };
      if (fields.length === FIELDS) problem.image = fields[FIELDS - 1]!;
      problems.push(problem);
    }
  });
  return { format: 'wflw', instances, problems };
}
