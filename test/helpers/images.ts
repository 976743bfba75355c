import sharp from 'sharp';

export interface Dot {
  /** Centre in continuous image coordinates (pixel (i, j) covers [i, i+1) × [j, j+1)). */
  x: number;
  y: number;
  sigma: number;
}

/** A black RGB image with white Gaussian dots, as raw bytes. */
export function dotPixels(width: number, height: number, dots: readonly Dot[]): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      let value = 0;
      for (const dot of dots) {
        const dx = column + 0.5 - dot.x;
        const dy = row + 0.5 - dot.y;
        value += 255 * Math.exp(-(dx * dx + dy * dy) / (2 * dot.sigma * dot.sigma));
      }
      const byte = Math.min(255, Math.round(value));
      const offset = (row * width + column) * 3;
      pixels[offset] = byte;
      pixels[offset + 1] = byte;
      pixels[offset + 2] = byte;
    }
  }
  return pixels;
}

export async function dotImage(
  width: number,
  height: number,
  dots: readonly Dot[],
  format: 'png' | 'jpeg' = 'png',
): Promise<Buffer> {
  const image = sharp(dotPixels(width, height, dots), { raw: { width, height, channels: 3 } });
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
}
