import { describe, expect, test } from 'vitest';
import { DomainError } from '../../src/domain-errors.js';
import {
  boxesFromTensor,
  flatData,
  imageFromTensor,
  inferOptions,
  outputMetadata,
  outputTensors,
  TensorError,
  type InputTensor,
} from '../../src/kserve/tensors.js';
import type { InstanceOut } from '../../src/pipeline/predict-keypoints.js';

const tensor = (name: string, datatype: string, shape: number[], data: unknown[]): InputTensor => ({
  name,
  datatype,
  shape,
  data,
});

describe('flatData', () => {
  test('flat and nested data give the same row-major elements', () => {
    const flat = tensor('image', 'UINT8', [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const nested = tensor(
      'image',
      'UINT8',
      [2, 2, 3],
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [
          [7, 8, 9],
          [10, 11, 12],
        ],
      ],
    );
    expect(flatData(nested)).toEqual(flatData(flat));
  });

  test('data nested deeper than the shape, or of the wrong size, is refused naming the input', () => {
    expect(() => flatData(tensor('boxes', 'FP32', [1, 4], [[[0, 0, 1, 1]]]))).toThrow(/input "boxes" nests its data deeper/);
    expect(() => flatData(tensor('boxes', 'FP32', [2, 4], [0, 0, 1, 1]))).toThrow(
      'input "boxes" has 4 elements; shape [2, 4] needs 8',
    );
  });
});

describe('imageFromTensor', () => {
  test('UINT8 [H, W, 3] becomes the decoded image, pixel for pixel', () => {
    const data = Array.from({ length: 2 * 3 * 3 }, (_, i) => (i * 37) % 256);
    const image = imageFromTensor(tensor('image', 'UINT8', [2, 3, 3], data), 100);
    expect(image.width).toBe(3);
    expect(image.height).toBe(2);
    expect([...image.pixels]).toEqual(data);
  });

  test.each([
    ['FP32 data', tensor('image', 'FP32', [1, 1, 3], [0, 0, 0]), /must be UINT8, got FP32/],
    ['grey images', tensor('image', 'UINT8', [1, 1, 1], [0]), /shape \[H, W, 3\]/],
    ['an empty image', tensor('image', 'UINT8', [0, 4, 3], []), /is empty/],
    ['a value past 255', tensor('image', 'UINT8', [1, 1, 3], [0, 256, 0]), /element 1 is 256/],
    ['a fraction', tensor('image', 'UINT8', [1, 1, 3], [0, 1.5, 0]), /element 1 is 1.5/],
  ])('refuses %s with a TensorError', (_what, input, message) => {
    expect(() => imageFromTensor(input, 100)).toThrow(TensorError);
    expect(() => imageFromTensor(input, 100)).toThrow(message);
  });

  test('more pixels than the limit is the domain refusal image-too-large, before the data is read', () => {
    const input = tensor('image', 'UINT8', [10, 10, 3], []);
    let error: unknown;
    try {
      imageFromTensor(input, 99);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('image-too-large');
  });
});

describe('boxesFromTensor', () => {
  test('[B, 4] rows become {x, y, width, height}', () => {
    expect(boxesFromTensor(tensor('boxes', 'FP32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]))).toEqual([
      { x: 1, y: 2, width: 3, height: 4 },
      { x: 5, y: 6, width: 7, height: 8 },
    ]);
  });

  test('wrong type, shape or element is refused', () => {
    expect(() => boxesFromTensor(tensor('boxes', 'INT32', [1, 4], [0, 0, 1, 1]))).toThrow(/must be FP32/);
    expect(() => boxesFromTensor(tensor('boxes', 'FP32', [1, 3], [0, 0, 1]))).toThrow(/shape \[B, 4\]/);
    expect(() => boxesFromTensor(tensor('boxes', 'FP32', [1, 4], [0, '0', 1, 1]))).toThrow(
      'input "boxes" element 1 is "0", not a number',
    );
  });
});

describe('inferOptions', () => {
  test('defaults match predict: tta on, ml fusion, level 0.95', () => {
    expect(inferOptions(undefined)).toEqual({ tta: true, fusion: 'ml', level: 0.95 });
  });

  test('each loosely typed parameter is checked', () => {
    expect(() => inferOptions({ tta: 'yes' })).toThrow('parameter "tta" must be a boolean, got "yes"');
    expect(() => inferOptions({ fusion: 'median' })).toThrow(/parameter "fusion" must be "ml" or "mean"/);
    expect(() => inferOptions({ level: 1 })).toThrow(/strictly between 0 and 1, got 1/);
  });
});

describe('outputTensors', () => {
  test('instances flatten row-major into the documented shapes', () => {
    const keypoint = (x: number, y: number) => ({
      name: `k${x}`,
      x,
      y,
      covariance: [
        [x, 0.5],
        [0.5, y],
      ] as [[number, number], [number, number]],
      ellipse: { level: 0.95, semiMajor: 3, semiMinor: 2, angle: 10 },
      rmse: Math.sqrt(x + y),
    });
    const instances: InstanceOut[] = [
      { box: { x: 0, y: 0, width: 10, height: 10 }, keypoints: [keypoint(1, 2), keypoint(3, 4)] },
      { box: { x: 5, y: 5, width: 20, height: 30 }, keypoints: [keypoint(5, 6), keypoint(7, 8)] },
    ];
    const tensors = outputTensors(instances, 2);
    expect(tensors.keypoints).toEqual({ shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(tensors.covariance.shape).toEqual([2, 2, 2, 2]);
    expect(tensors.covariance.data.slice(0, 4)).toEqual([1, 0.5, 0.5, 2]);
    expect(tensors.ellipse.data.slice(0, 3)).toEqual([3, 2, 10]);
    expect(tensors.rmse).toEqual({ shape: [2, 2], data: [Math.sqrt(3), Math.sqrt(7), Math.sqrt(11), Math.sqrt(15)] });
    expect(tensors.boxes.data).toEqual([0, 0, 10, 10, 5, 5, 20, 30]);
    for (const meta of outputMetadata(2)) {
      expect(meta.shape.slice(1)).toEqual(tensors[meta.name as keyof typeof tensors].shape.slice(1));
    }
  });
});
