// PNG and TIFF encoders written from the specifications, so that the decoder is tested on files whose
// every byte is known: 16-bit and grey-with-alpha PNGs, CMYK inks, and headers that lie.
import { crc32, deflateSync } from 'node:zlib';

export type PngColourType = 'grey' | 'rgb' | 'grey-alpha' | 'rgba';

const colourTypeCode: Record<PngColourType, number> = { grey: 0, rgb: 2, 'grey-alpha': 4, rgba: 6 };
export const pngChannels: Record<PngColourType, number> = { grey: 1, rgb: 3, 'grey-alpha': 2, rgba: 4 };

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function ihdr(width: number, height: number, bitDepth: 8 | 16, colour: PngColourType): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colourTypeCode[colour];
  // compression 0, filter 0, no interlace
  return chunk('IHDR', data);
}

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** `samples` row-major, interleaved channels, each 0–255 (depth 8) or 0–65535 (depth 16). */
export function encodePng(
  width: number,
  height: number,
  colour: PngColourType,
  bitDepth: 8 | 16,
  samples: ArrayLike<number>,
): Buffer {
  const channels = pngChannels[colour];
  if (samples.length !== width * height * channels)
    throw new Error(`expected ${width * height * channels} samples, got ${samples.length}`);
  const bytesPerSample = bitDepth / 8;
  const rowBytes = 1 + width * channels * bytesPerSample;
  const raw = Buffer.alloc(rowBytes * height);
  for (let row = 0; row < height; row++) {
    // Filter type 0 (None) on every row.
    for (let index = 0; index < width * channels; index++) {
      const value = samples[row * width * channels + index]!;
      const at = row * rowBytes + 1 + index * bytesPerSample;
      if (bitDepth === 16) raw.writeUInt16BE(value, at);
      else raw[at] = value;
    }
  }
  return Buffer.concat([
    signature,
    ihdr(width, height, bitDepth, colour),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A valid PNG header claiming width × height RGB pixels, followed by a few hundred bytes of
 * compressed zeros: a decompression bomb's shape, without the bomb's cost to build.
 */
export function pngClaiming(width: number, height: number): Buffer {
  const idat = deflateSync(Buffer.alloc(64 * 1024));
  return Buffer.concat([signature, ihdr(width, height, 8, 'rgb'), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** An uncompressed, little-endian, chunky CMYK TIFF (photometric 5): `inks` is C, M, Y, K per pixel, 0–255. */
export function encodeCmykTiff(width: number, height: number, inks: ArrayLike<number>): Buffer {
  if (inks.length !== width * height * 4) throw new Error(`expected ${width * height * 4} samples, got ${inks.length}`);
  const entries: Array<[tag: number, type: number, count: number, value: number]> = [];
  const headerSize = 8;
  const entryCount = 11;
  const ifdSize = 2 + entryCount * 12 + 4;
  const bitsOffset = headerSize + ifdSize;
  const dataOffset = bitsOffset + 8;
  const SHORT = 3;
  const LONG = 4;
  entries.push(
    [256, LONG, 1, width],
    [257, LONG, 1, height],
    [258, SHORT, 4, bitsOffset], // BitsPerSample 8,8,8,8 (stored after the IFD)
    [259, SHORT, 1, 1], // no compression
    [262, SHORT, 1, 5], // separated (CMYK)
    [273, LONG, 1, dataOffset],
    [277, SHORT, 1, 4],
    [278, LONG, 1, height],
    [279, LONG, 1, inks.length],
    [284, SHORT, 1, 1], // chunky
    [332, SHORT, 1, 1], // InkSet: CMYK
  );
  const out = Buffer.alloc(dataOffset + inks.length);
  out.write('II*\0', 0, 'latin1');
  out.writeUInt32LE(headerSize, 4);
  out.writeUInt16LE(entryCount, headerSize);
  entries.forEach(([tag, type, count, value], index) => {
    const at = headerSize + 2 + index * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    if (type === SHORT && count === 1) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(value, at + 8);
  });
  out.writeUInt32LE(0, headerSize + 2 + entryCount * 12);
  for (let index = 0; index < 4; index++) out.writeUInt16LE(8, bitsOffset + index * 2);
  for (let index = 0; index < inks.length; index++) out[dataOffset + index] = inks[index]!;
  return out;
}
