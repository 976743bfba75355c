import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../../src/models/manifest.js';
import { decodeImage, type DecodedImage } from '../../src/pipeline/image-decoder.js';
import { planCrop, sampleCrop } from '../../src/pipeline/crop-sampler.js';
import { SeededRandom } from '../seeded-random.js';

/** Calibration crops exactly as the service samples them: the whole image as the box, and its mirror. */
export interface CalibrationSet {
  crops: Float32Array;
  count: number;
  images: number;
  source: 'images' | 'generated';
}

export class CalibrationError extends Error {
  override name = 'CalibrationError';
}

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.avif', '.tif', '.tiff', '.gif']);
const GENERATED_SIZE = 160;

/**
 * A seeded picture with what a convolutional network responds to at every scale: a smooth colour
 * gradient, soft bright and dark blobs, and pixel noise. It stands in for photographs when none are
 * given; a variant calibrated on it says so in its manifest.
 */
export function generatedImage(seed: number, size = GENERATED_SIZE): DecodedImage {
  const random = new SeededRandom(seed, 0x7a1);
  const pixels = Buffer.alloc(size * size * 3);
  const base = [0, 1, 2].map(() => 40 + 150 * random.nextUniform());
  const slope = [0, 1, 2].map(() => [(random.nextUniform() - 0.5) * 1.2, (random.nextUniform() - 0.5) * 1.2]);
  const blobs = Array.from({ length: 6 }, () => ({
    x: random.nextUniform() * size,
    y: random.nextUniform() * size,
    radius: 3 + random.nextUniform() * size * 0.15,
    value: (random.nextUniform() - 0.35) * 320,
  }));
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      let blob = 0;
      for (const b of blobs) {
        const dx = column + 0.5 - b.x;
        const dy = row + 0.5 - b.y;
        blob += b.value * Math.exp(-(dx * dx + dy * dy) / (2 * b.radius * b.radius));
      }
      for (let c = 0; c < 3; c++) {
        const value =
          base[c]! + slope[c]![0]! * (column - size / 2) + slope[c]![1]! * (row - size / 2) + blob + random.nextNormal() * 6;
        pixels[(row * size + column) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return { pixels, width: size, height: size, format: 'generated' };
}

async function imagesFromDirectory(directory: string, count: number): Promise<DecodedImage[]> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => imageExtensions.has(path.extname(name).toLowerCase())).sort();
  } catch (error) {
    throw new CalibrationError(`calibration directory ${directory} cannot be read: ${(error as Error).message}`);
  }
  if (names.length === 0)
    throw new CalibrationError(`calibration directory ${directory} holds no images (${[...imageExtensions].join(', ')})`);
  const images: DecodedImage[] = [];
  for (const name of names.slice(0, count)) {
    const file = path.join(directory, name);
    try {
      images.push(await decodeImage(await readFile(file), { maxPixels: 100_000_000 }));
    } catch (error) {
      throw new CalibrationError(`calibration image ${file} cannot be decoded: ${(error as Error).message}`);
    }
  }
  return images;
}

/**
 * The calibration crops for a model: up to `count` images from `directory` (sorted by name), or
 * `count` generated ones. Each image is one box (the whole image, as a request without boxes) and
 * two views, the crop and its mirror, as the service runs them with TTA on.
 */
export async function calibrationSet(
  manifest: Manifest,
  options: { directory?: string | undefined; count: number },
): Promise<CalibrationSet> {
  if (!Number.isInteger(options.count) || options.count < 1)
    throw new CalibrationError(`--count must be a positive integer, got ${options.count}`);
  const images = options.directory
    ? await imagesFromDirectory(options.directory, options.count)
    : Array.from({ length: options.count }, (_, index) => generatedImage(index + 1));
  const itemSize = 3 * manifest.input.size * manifest.input.size;
  const crops = new Float32Array(images.length * 2 * itemSize);
  images.forEach((image, index) => {
    const crop = planCrop({ x: 0, y: 0, width: image.width, height: image.height }, manifest.crop.scale, manifest.input.size);
    const offset = index * 2 * itemSize;
    sampleCrop(image, crop, manifest.crop.padding, manifest.input, crops, offset, offset + itemSize);
  });
  return { crops, count: images.length * 2, images: images.length, source: options.directory ? 'images' : 'generated' };
}
