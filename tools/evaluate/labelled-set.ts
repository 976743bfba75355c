/** The labelled set as every format reads into it: instances (a WFLW line, a COCO person) and the problems found on the way. */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** WFLW's six attribute flags, in the file's column order (docs/spec.md §10). */
export const WFLW_ATTRIBUTES = ['pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur'] as const;
export type WflwAttribute = (typeof WFLW_ATTRIBUTES)[number];

export interface LabelledInstance {
  /** Where the instance was read, for messages: `file:line` or `file#annotation-id`. */
  source: string;
  /** Image path relative to the images folder. */
  image: string;
  box: Box;
  /** Ground truth, image pixels, interleaved x₀ y₀ x₁ y₁ … (one pair per keypoint). */
  points: number[];
  /** Per keypoint: whether its ground truth counts (COCO v > 0; every WFLW landmark). */
  labelled: boolean[];
  /** WFLW only: which attribute subsets hold the instance. */
  attributes?: Record<WflwAttribute, boolean>;
  /** COCO only: the object's area s² for OKS (the annotation's `area`, else bbox w·h). */
  area?: number;
}

/** Bad input that is reported and skipped, never silently dropped. */
export interface AnnotationProblem {
  /** `file:line` or `file#annotation-id`, or the file alone when the whole file is unusable. */
  source: string;
  /** The image the problem concerns, when it is known. */
  image?: string;
  reason: string;
}

export interface LabelledSet {
  format: 'wflw' | 'coco';
  instances: LabelledInstance[];
  problems: AnnotationProblem[];
  /** COCO: per-keypoint σ (top-level `sigmas`) when the dataset gives it. */
  sigmas?: number[];
}
