/**
 * The picture render answers (docs/spec.md §11): the overlay SVG composited onto the decoded, EXIF-oriented
 * image by sharp (librsvg draws the SVG; nothing else draws), or for `svg` the overlay with the image
 * embedded as a data URI.
 */
import sharp from 'sharp';
import type { DecodedImage } from '../pipeline/image-decoder.js';
import { overlaySvg, type OverlayDrawing } from './overlay-svg.js';

export const RENDER_FORMATS = ['png', 'jpeg', 'svg'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

export const RENDER_CONTENT_TYPES: Record<RenderFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  svg: 'image/svg+xml',
};

const JPEG_QUALITY = 90;

function rawImage(image: DecodedImage) {
  return sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/** A photograph stays JPEG inside the SVG (a PNG of it would be several times larger); anything else is PNG. */
async function embeddedImage(image: DecodedImage): Promise<{ mimeType: string; bytes: Buffer }> {
  if (image.format === 'jpeg')
    return { mimeType: 'image/jpeg', bytes: await rawImage(image).jpeg({ quality: JPEG_QUALITY }).toBuffer() };
  return { mimeType: 'image/png', bytes: await rawImage(image).png().toBuffer() };
}

export async function renderPicture(image: DecodedImage, drawing: OverlayDrawing, format: RenderFormat): Promise<Buffer> {
  const size = { width: image.width, height: image.height };
  if (format === 'svg') return Buffer.from(overlaySvg({ ...size, ...drawing, background: await embeddedImage(image) }));
  const overlay = { input: Buffer.from(overlaySvg({ ...size, ...drawing })), top: 0, left: 0 };
  const composed = rawImage(image).composite([overlay]);
  return format === 'png' ? composed.png().toBuffer() : composed.jpeg({ quality: JPEG_QUALITY }).toBuffer();
}
