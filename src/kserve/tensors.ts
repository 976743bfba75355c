/*
 * Conversions between the Open Inference Protocol's JSON tensors and the pipeline's values: pure,
 * no I/O, no HTTP. Every refusal is a TensorError naming the tensor and, where it helps, the element.
 */

import { DomainError } from '../domain-errors.js';
import type { Box } from '../pipeline/crop-sampler.js';
import type { DecodedImage } from '../pipeline/image-decoder.js';
import type { InstanceOut } from '../pipeline/predict-keypoints.js';

/** A tensor the client sent that does not fit the model's signature. */
export class TensorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TensorError';
  }
}

export interface InputTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export const OUTPUT_NAMES = ['keypoints', 'covariance', 'ellipse', 'rmse', 'boxes'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export function isOutputName(name: string): name is OutputName {
  return (OUTPUT_NAMES as readonly string[]).includes(name);
}

/** The output tensors' metadata for a model with `keypointCount` keypoints (-1: the batch of boxes). */
export function outputMetadata(keypointCount: number) {
  const K = keypointCount;
  const shapes: Record<OutputName, number[]> = {
    keypoints: [-1, K, 2],
    covariance: [-1, K, 2, 2],
    ellipse: [-1, K, 3],
    rmse: [-1, K],
    boxes: [-1, 4],
  };
  return OUTPUT_NAMES.map((name) => ({ name, datatype: 'FP32', shape: shapes[name] }));
}

const elementCount = (shape: readonly number[]) => shape.reduce((product, size) => product * size, 1);

/** The tensor's elements as one flat array, checked against its shape. */
export function flatData(input: InputTensor): unknown[] {
  // Nested data is as deep as the shape at most: flattening to any depth would recurse as deep as the client liked.
  const data = input.data.some(Array.isArray) ? input.data.flat(Math.max(0, input.shape.length - 1)) : input.data;
  if (data.some(Array.isArray)) {
    throw new TensorError(`input "${input.name}" nests its data deeper than its shape [${input.shape.join(', ')}]`);
  }
  const expected = elementCount(input.shape);
  if (data.length !== expected) {
    throw new TensorError(
      `input "${input.name}" has ${data.length} elements; shape [${input.shape.join(', ')}] needs ${expected}`,
    );
  }
  return data;
}

/**
 * The UINT8 [H, W, 3] tensor as decoded RGB pixels, handed to the pipeline as they are: there is
 * nothing to decode, so no detour through an image file.
 */
export function imageFromTensor(input: InputTensor, maxPixels: number): DecodedImage {
  if (input.datatype !== 'UINT8') throw new TensorError(`input "image" must be UINT8, got ${input.datatype}`);
  const [height = 0, width = 0, channels] = input.shape;
  if (input.shape.length !== 3 || channels !== 3) {
    throw new TensorError(`input "image" must have shape [H, W, 3] (RGB), got [${input.shape.join(', ')}]`);
  }
  if (height < 1 || width < 1) throw new TensorError(`input "image" is empty: shape [${input.shape.join(', ')}]`);
  if (height * width > maxPixels) {
    throw new DomainError('image-too-large', `image has ${height * width} pixels, more than the limit of ${maxPixels}`);
  }
  const data = flatData(input);
  const pixels = Buffer.allocUnsafe(data.length);
  data.forEach((value, index) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
      throw new TensorError(`input "image" element ${index} is ${JSON.stringify(value)}; UINT8 elements are integers 0–255`);
    }
    pixels[index] = value;
  });
  return { pixels, width, height, format: 'raw' };
}

/** The FP32 [B, 4] tensor as boxes {x, y, width, height}. */
export function boxesFromTensor(input: InputTensor): Box[] {
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64') {
    throw new TensorError(`input "boxes" must be FP32, got ${input.datatype}`);
  }
  const [count = 0, columns] = input.shape;
  if (input.shape.length !== 2 || columns !== 4) {
    throw new TensorError(`input "boxes" must have shape [B, 4] (x, y, width, height), got [${input.shape.join(', ')}]`);
  }
  const values = flatData(input).map((value, index) => {
    if (typeof value !== 'number')
      throw new TensorError(`input "boxes" element ${index} is ${JSON.stringify(value)}, not a number`);
    return value;
  });
  return Array.from({ length: count }, (_, b) => ({
    x: values[4 * b] ?? NaN,
    y: values[4 * b + 1] ?? NaN,
    width: values[4 * b + 2] ?? NaN,
    height: values[4 * b + 3] ?? NaN,
  }));
}

export interface InferOptions {
  tta: boolean;
  fusion: 'ml' | 'mean';
  level: number;
}

/** Protocol parameters as predict options; the protocol's parameters are loosely typed, so each is checked. */
export function inferOptions(parameters: Record<string, unknown> | undefined): InferOptions {
  const { tta = true, fusion = 'ml', level = 0.95 } = parameters ?? {};
  if (typeof tta !== 'boolean') throw new TensorError(`parameter "tta" must be a boolean, got ${JSON.stringify(tta)}`);
  if (fusion !== 'ml' && fusion !== 'mean') {
    throw new TensorError(`parameter "fusion" must be "ml" or "mean", got ${JSON.stringify(fusion)}`);
  }
  if (typeof level !== 'number' || !(level > 0 && level < 1)) {
    throw new TensorError(`parameter "level" must be a number strictly between 0 and 1, got ${JSON.stringify(level)}`);
  }
  return { tta, fusion, level };
}

/** Predicted instances as the five output tensors, row-major and flattened. */
export function outputTensors(
  instances: readonly InstanceOut[],
  keypointCount: number,
): Record<OutputName, { shape: number[]; data: number[] }> {
  const B = instances.length;
  const K = keypointCount;
  const keypoints = instances.flatMap((instance) => instance.keypoints);
  return {
    keypoints: { shape: [B, K, 2], data: keypoints.flatMap((k) => [k.x, k.y]) },
    covariance: { shape: [B, K, 2, 2], data: keypoints.flatMap((k) => k.covariance.flat()) },
    ellipse: {
      shape: [B, K, 3],
      data: keypoints.flatMap((k) => [k.ellipse.semiMajor, k.ellipse.semiMinor, k.ellipse.angle]),
    },
    rmse: { shape: [B, K], data: keypoints.map((k) => k.rmse) },
    boxes: { shape: [B, 4], data: instances.flatMap(({ box }) => [box.x, box.y, box.width, box.height]) },
  };
}
