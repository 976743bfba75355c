import sharp, { type Metadata } from 'sharp';
import { badRequest, payloadTooLarge, unsupportedMediaType } from '../errors.js';

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
 * Decodes, orients by EXIF and converts to sRGB without alpha. Failures become problems the client
 * can act on: 415 for what is not a supported image, 413 past the pixel limit, 400 for a damaged one.
 */
export async function decodeImage(bytes: Buffer, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw badRequest('image is empty (0 bytes)', 'invalid-image');
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw unsupportedMediaType(`image is not a supported image format (${bytes.length} bytes; expected JPEG, PNG, WebP, AVIF or TIFF)`);
  }
  const format = metadata.format ?? 'unknown';
  if (!supportedFormats.has(format)) {
    throw unsupportedMediaType(`image format "${format}" is not supported; send JPEG, PNG, WebP, AVIF or TIFF`);
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width * height > limits.maxPixels) {
    throw payloadTooLarge(`image is ${width}×${height} = ${width * height} pixels, over the limit of ${limits.maxPixels}`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 })
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { pixels: data, width: info.width, height: info.height, format };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw badRequest(`image could not be decoded as ${format}: ${reason}`, 'invalid-image');
  }
}
