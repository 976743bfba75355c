import os from 'node:os';
import pLimit from 'p-limit';
import sharp, { type Metadata } from 'sharp';
import { DomainError } from '../domain-errors.js';

/** An EXIF-oriented image as 8-bit RGB, row-major, three bytes a pixel. */
export interface DecodedImage {
  pixels: Buffer;
  width: number;
  height: number;
  format: string;
}

export interface DecodeLimits {
  maxPixels: number;
}

const supportedFormats = new Set(['jpeg', 'png', 'webp', 'avif', 'heif', 'tiff', 'gif']);

sharp.cache(false);

/**
 * Full decodes at once, process-wide. Admission bounds the crops waiting, not the pixels, so without
 * this dozens of admitted 40-megapixel images could be held decoded together; with it, decoded
 * memory stays below this many × MAX_IMAGE_PIXELS × 3 bytes and the cores are no more oversubscribed.
 */
export const DECODE_CONCURRENCY = Math.max(2, os.availableParallelism());
const decodeSlot = pLimit(DECODE_CONCURRENCY);

/**
 * The format a file's first bytes announce. When libvips cannot even read the header, this tells
 * a damaged image of a supported format (400, the client's file is broken) from something that is
 * not an image we take (415, the client sent the wrong thing).
 */
function sniffFormat(bytes: Buffer): string | undefined {
  const ascii = (start: number, end: number) => bytes.toString('latin1', start, end);
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  if (ascii(4, 8) === 'ftyp' && /^(avif|avis|heic|heix|mif1|msf1)$/.test(ascii(8, 12))) return 'heif';
  return undefined;
}

/**
 * Decodes, orients by EXIF and converts to sRGB without alpha. Failures become problems the client
 * can act on: 415 for what is not a supported image, 413 past the pixel limit, 400 for a damaged one.
 */
export async function decodeImage(bytes: Buffer, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw new DomainError('invalid-image', 'image is empty (0 bytes)');
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    const sniffed = sniffFormat(bytes);
    if (sniffed !== undefined) {
      throw new DomainError(
        'invalid-image',
        `image could not be decoded as ${sniffed}: its header is damaged or incomplete (${firstLine(error)})`,
      );
    }
    throw new DomainError(
      'unsupported-image',
      `image is not a supported image format (${bytes.length} bytes; expected JPEG, PNG, WebP, AVIF, TIFF or GIF)`,
    );
  }
  const format = metadata.format ?? 'unknown';
  if (!supportedFormats.has(format)) {
    throw new DomainError(
      'unsupported-image',
      `image format "${format}" is not supported; send JPEG, PNG, WebP, AVIF, TIFF or GIF`,
    );
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width * height > limits.maxPixels) {
    throw new DomainError(
      'image-too-large',
      `image is ${width}×${height} = ${width * height} pixels, over the limit of ${limits.maxPixels}`,
    );
  }
  try {
    const { data, info } = await decodeSlot(() =>
      sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 })
        .autoOrient()
        .toColourspace('srgb')
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    );
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { pixels: data, width: info.width, height: info.height, format };
  } catch (error) {
    throw new DomainError('invalid-image', `image could not be decoded as ${format}: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}
