/**
 * COCO keypoints JSON (docs/spec.md §10): `images` ({id, file_name}), `annotations` ({id, image_id, keypoints as
 * [x, y, v] triples, bbox [x, y, w, h], area?, iscrowd?}) and, when the dataset gives them, a top-level
 * `sigmas` array for OKS.
 */
import type { AnnotationProblem, LabelledInstance, LabelledSet } from './labelled-set.js';

class AnnotationError extends Error {}

/** The whole file cannot be used (not JSON, no `annotations`, …): nothing can be evaluated from it. */
export class CocoFileError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function finiteNumbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new AnnotationError(`${what} must be an array, got ${JSON.stringify(value)}`);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'number' || !Number.isFinite(item))
      throw new AnnotationError(`${what}[${i}] is not a finite number: ${JSON.stringify(item)}`);
    return item;
  });
}

function readImages(images: unknown[], file: string, problems: AnnotationProblem[]): Map<unknown, string> {
  const byId = new Map<unknown, string>();
  images.forEach((image, index) => {
    if (
      !isRecord(image) ||
      (typeof image['id'] !== 'number' && typeof image['id'] !== 'string') ||
      typeof image['file_name'] !== 'string'
    ) {
      problems.push({ source: `${file}#images[${index}]`, reason: `${file}: images[${index}] needs an id and a file_name` });
      return;
    }
    byId.set(image['id'], image['file_name']);
  });
  return byId;
}

/** null: skipped by definition (crowd, nothing labelled), not a problem. */
function readAnnotation(
  annotation: Record<string, unknown>,
  source: string,
  images: Map<unknown, string>,
): LabelledInstance | null {
  if (annotation['iscrowd'] === 1) return null;
  const image = images.get(annotation['image_id']);
  if (image === undefined)
    throw new AnnotationError(`image_id ${JSON.stringify(annotation['image_id'])} is not among the images`);
  const keypoints = finiteNumbers(annotation['keypoints'], 'keypoints');
  if (keypoints.length === 0 || keypoints.length % 3 !== 0) {
    throw new AnnotationError(`keypoints must hold [x, y, v] triples, got ${keypoints.length} numbers`);
  }
  const bbox = finiteNumbers(annotation['bbox'], 'bbox');
  if (bbox.length !== 4) throw new AnnotationError(`bbox must be [x, y, w, h], got ${bbox.length} numbers`);
  const [x, y, width, height] = bbox as [number, number, number, number];
  if (!(width > 0 && height > 0)) throw new AnnotationError(`bbox width ${width} and height ${height} must be positive`);
  const points: number[] = [];
  const labelled: boolean[] = [];
  for (let i = 0; i < keypoints.length; i += 3) {
    points.push(keypoints[i]!, keypoints[i + 1]!);
    labelled.push(keypoints[i + 2]! > 0);
  }
  if (!labelled.includes(true)) return null;
  let area = width * height;
  if (annotation['area'] !== undefined) {
    const given = annotation['area'];
    if (typeof given !== 'number' || !(given > 0) || !Number.isFinite(given))
      throw new AnnotationError(`area must be a positive number, got ${JSON.stringify(given)}`);
    area = given;
  }
  return { source, image, box: { x, y, width, height }, points, labelled, area };
}

/** Parses the file's text; a bad annotation becomes a problem naming its id, a file without `images` or `annotations` throws. */
export function parseCocoAnnotations(text: string, file: string): LabelledSet {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CocoFileError(`${file}: not JSON (${(error as Error).message})`);
  }
  if (!isRecord(document)) throw new CocoFileError(`${file}: the top level must be an object with images and annotations`);
  if (!Array.isArray(document['annotations']))
    throw new CocoFileError(`${file}: missing \`annotations\` (an array of keypoint annotations)`);
  if (!Array.isArray(document['images'])) throw new CocoFileError(`${file}: missing \`images\` (an array of {id, file_name})`);
  const problems: AnnotationProblem[] = [];
  let sigmas: number[] | undefined;
  if (document['sigmas'] !== undefined) {
    try {
      sigmas = finiteNumbers(document['sigmas'], 'sigmas');
      if (!sigmas.every((sigma) => sigma > 0)) throw new AnnotationError('every sigma must be positive');
    } catch (error) {
      if (!(error instanceof AnnotationError)) throw error;
      throw new CocoFileError(`${file}: ${error.message}`);
    }
  }
  const images = readImages(document['images'], file, problems);
  const instances: LabelledInstance[] = [];
  document['annotations'].forEach((annotation: unknown, index: number) => {
    const id =
      isRecord(annotation) && (typeof annotation['id'] === 'number' || typeof annotation['id'] === 'string')
        ? annotation['id']
        : `[${index}]`;
    const source = `${file}#annotation ${id}`;
    try {
      if (!isRecord(annotation)) throw new AnnotationError('is not an object');
      const instance = readAnnotation(annotation, source, images);
      if (instance === null) return;
      if (sigmas !== undefined && sigmas.length !== instance.labelled.length) {
        throw new AnnotationError(`has ${instance.labelled.length} keypoints but sigmas has ${sigmas.length}`);
      }
      instances.push(instance);
    } catch (error) {
      if (!(error instanceof AnnotationError)) throw error;
      const problem: AnnotationProblem = { source, reason: `${source}: ${error.message}` };
      const image = isRecord(annotation) ? images.get(annotation['image_id']) : undefined;
      if (image !== undefined) problem.image = image;
      problems.push(problem);
    }
  });
  return sigmas === undefined ? { format: 'coco', instances, problems } : { format: 'coco', instances, problems, sigmas };
}
