import assert from 'node:assert/strict';
import { expect, test } from 'vitest';
import { inputToImage, mirroredInputToImage, planCrop, sampleCrop, type Padding } from '../../src/pipeline/crop-sampler.js';
import type { DecodedImage } from '../../src/pipeline/image-decoder.js';
import { createRng } from '../helpers/prng.js';

const identity = { mean: [0, 0, 0] as const, std: [1 / 255, 1 / 255, 1 / 255] as const };

function image(width: number, height: number, value: (x: number, y: number, channel: number) => number): DecodedImage {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = value(x, y, c);
  return { pixels, width, height, format: 'raw' };
}

function apply(affine: { m: readonly number[]; t: readonly number[] }, q: [number, number]): [number, number] {
  return [affine.m[0]! * q[0] + affine.m[1]! * q[1] + affine.t[0]!, affine.m[2]! * q[0] + affine.m[3]! * q[1] + affine.t[1]!];
}

test('planCrop: a square of side scale × diagonal centred on the box; the affine maps input to image exactly', () => {
  const crop = planCrop({ x: 10, y: 20, width: 30, height: 40 }, 1.5, 64);
  assert.equal(crop.side, 75);
  const toImage = inputToImage(crop);
  const centre = apply(toImage, [32, 32]);
  expect(centre).toBeCloseToNested([25, 40], { abs: 1e-12 });
  const corner = apply(toImage, [64, 0]);
  expect(corner).toBeCloseToNested([25 + 37.5, 40 - 37.5], { abs: 1e-12 });
  // The mirrored view's q' = (S − q_x, q_y) lands on the same image point as q.
  const rng = createRng(7);
  for (let i = 0; i < 100; i++) {
    const q: [number, number] = [rng.uniform() * 64, rng.uniform() * 64];
    const plain = apply(toImage, q);
    const mirrored = apply(mirroredInputToImage(crop), [64 - q[0], q[1]]);
    expect(plain).toBeCloseToNested(mirrored, { abs: 1e-9 });
  }
});

test('bilinear sampling reproduces a linear ramp exactly at every input pixel centre', () => {
  const ramp = image(200, 150, (x, y, c) => (x + 2 * y + 10 * c) % 256);
  const crop = planCrop({ x: 30.3, y: 20.7, width: 50, height: 40 }, 1, 32);
  const target = new Float32Array(3 * 32 * 32);
  sampleCrop(ramp, crop, 'edge', identity, target, 0, null);
  const toImage = inputToImage(crop);
  for (let row = 0; row < 32; row++) {
    for (let column = 0; column < 32; column++) {
      const [px, py] = apply(toImage, [column + 0.5, row + 0.5]);
      // Pixel (i, j)'s value sits at its centre (i + 0.5, j + 0.5).
      const expected = px - 0.5 + 2 * (py - 0.5);
      expect(target[row * 32 + column], `(${row}, ${column})`).toBeCloseToNested(expected, { abs: 1e-3 });
    }
  }
});

test('padding outside the image: constant is black, edge repeats the border, reflect mirrors about the border', () => {
  const rng = createRng(11);
  const noise = image(40, 30, () => Math.floor(rng.uniform() * 256));
  const value = (x: number, y: number, c = 0) => noise.pixels[(y * 40 + x) * 3 + c]!;
  // Crop pixels land exactly on image pixel centres: side 16 over 16 inputs, origin at integers.
  const crop = { originX: -6, originY: 20, side: 16, inputSize: 16 };
  const expectations: Record<Padding, (x: number, y: number) => number> = {
    constant: (x, y) => (x < 0 || y >= 30 ? 0 : value(x, y)),
    edge: (x, y) => value(Math.max(0, x), Math.min(29, y)),
    reflect: (x, y) => value(x < 0 ? -1 - x : x, y >= 30 ? 59 - y : y),
  };
  for (const [padding, expected] of Object.entries(expectations) as Array<[Padding, (x: number, y: number) => number]>) {
    const target = new Float32Array(3 * 16 * 16);
    sampleCrop(noise, crop, padding, identity, target, 0, null);
    for (let row = 0; row < 16; row++) {
      for (let column = 0; column < 16; column++) {
        const got = target[row * 16 + column]!;
        expect(got, `${padding} at (${column - 6}, ${row + 20})`).toBeCloseToNested(expected(column - 6, row + 20), {
          abs: 1e-3,
        });
      }
    }
  }
});

test('the mirrored view is the crop flipped left-right, and normalization is (v/255 − mean)/std per channel', () => {
  const rng = createRng(3);
  const noise = image(50, 50, () => Math.floor(rng.uniform() * 256));
  const crop = planCrop({ x: 5, y: 5, width: 30, height: 30 }, 1, 24);
  const normalization = { mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const };
  const plane = 24 * 24;
  const both = new Float32Array(6 * plane);
  sampleCrop(noise, crop, 'reflect', normalization, both, 0, 3 * plane);
  const raw = new Float32Array(3 * plane);
  sampleCrop(noise, crop, 'reflect', identity, raw, 0, null);
  for (let c = 0; c < 3; c++) {
    for (let row = 0; row < 24; row++) {
      for (let column = 0; column < 24; column++) {
        const index = c * plane + row * 24 + column;
        const normalized = (raw[index]! / 255 - normalization.mean[c]!) / normalization.std[c]!;
        expect(both[index]).toBeCloseToNested(normalized, { abs: 1e-4 });
        assert.equal(both[3 * plane + c * plane + row * 24 + (23 - column)], both[index]);
      }
    }
  }
});

test('every channel of both views is the bilinear interpolation at its pixel centre, inside the image and across its border', () => {
  const rng = createRng(19);
  const noise = image(60, 45, () => Math.floor(rng.uniform() * 256));
  const at = (x: number, y: number, c: number) =>
    x < 0 || y < 0 || x >= 60 || y >= 45 ? 0 : noise.pixels[(y * 60 + x) * 3 + c]!;
  const size = 20;
  const plane = size * size;
  // Wholly inside (no tap outside the image), then half outside, both with constant padding.
  for (const box of [
    { x: 12.3, y: 9.8, width: 25.5, height: 21.2 },
    { x: -7.6, y: 30.4, width: 25.5, height: 21.2 },
  ]) {
    const crop = planCrop(box, 1, size);
    const target = new Float32Array(2 * 3 * plane);
    sampleCrop(noise, crop, 'constant', identity, target, 0, 3 * plane);
    const toImage = inputToImage(crop);
    for (let row = 0; row < size; row++) {
      for (let column = 0; column < size; column++) {
        const [px, py] = apply(toImage, [column + 0.5, row + 0.5]);
        const x = px - 0.5;
        const y = py - 0.5;
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const fx = x - x0;
        const fy = y - y0;
        for (let c = 0; c < 3; c++) {
          const expected =
            (1 - fx) * (1 - fy) * at(x0, y0, c) +
            fx * (1 - fy) * at(x0 + 1, y0, c) +
            (1 - fx) * fy * at(x0, y0 + 1, c) +
            fx * fy * at(x0 + 1, y0 + 1, c);
          const where = `box x ${box.x}, channel ${c}, (${row}, ${column})`;
          expect(target[c * plane + row * size + column], where).toBeCloseToNested(expected, { abs: 1e-3 });
          expect(target[3 * plane + c * plane + row * size + (size - 1 - column)], `mirrored ${where}`).toBeCloseToNested(
            expected,
            { abs: 1e-3 },
          );
        }
      }
    }
  }
});
