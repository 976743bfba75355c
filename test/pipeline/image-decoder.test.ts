import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { DomainError } from '../../src/domain-errors.js';
import { problemFromDomain } from '../../src/errors.js';
import { decodeImage } from '../../src/pipeline/image-decoder.js';
import { encodeCmykTiff, encodePng, pngClaiming } from '../hardening/image-writers.js';
import { dotImage, dotPixels } from '../helpers/images.js';

const limits = { maxPixels: 40_000_000 };
const W = 48;
const H = 36;
// One grey plane with two dots; every format below is built from it.
const grey = (() => {
  const rgb = dotPixels(W, H, [
    { x: 14, y: 15, sigma: 3 },
    { x: 33, y: 22, sigma: 3 },
  ]);
  return Uint8Array.from({ length: W * H }, (_, index) => rgb[index * 3]!);
})();

function interleave(planes: ArrayLike<number>[], scale = 1): number[] {
  const out: number[] = [];
  for (let index = 0; index < W * H; index++) for (const plane of planes) out.push(plane[index]! * scale);
  return out;
}

/** Every decoded pixel is (v, v, v) with v within `tolerance` of the source grey plane. */
function assertGreyPixels(pixels: Buffer, tolerance: number, what: string) {
  assert.equal(pixels.length, W * H * 3, `${what}: three bytes a pixel`);
  const source = Array.from({ length: W * H * 3 }, (_, sample) => grey[Math.floor(sample / 3)]!);
  expect(pixels, `${what}: every channel of every pixel near the source grey`).toBeCloseToNested(source, { abs: tolerance });
}

async function expectProblem(bytes: Buffer, status: number, detail: RegExp, maxPixels = limits.maxPixels) {
  await assert.rejects(decodeImage(bytes, { maxPixels }), (error: unknown) => {
    // The decoder raises domain errors; the status is what the HTTP layer maps them to.
    assert.ok(error instanceof DomainError, String(error));
    assert.equal(problemFromDomain(error).status, status, error.message);
    assert.match(error.message, detail);
    return true;
  });
}

describe('decodeImage: every supported layout becomes 8-bit sRGB, three channels', () => {
  const alpha = Array.from({ length: W * H }, (_, index) => (index * 7) % 256);
  const cases: Array<[string, () => Promise<Buffer> | Buffer]> = [
    ['8-bit grey PNG', () => encodePng(W, H, 'grey', 8, grey)],
    ['8-bit grey-with-alpha PNG', () => encodePng(W, H, 'grey-alpha', 8, interleave([grey, alpha]))],
    ['8-bit RGB PNG', () => encodePng(W, H, 'rgb', 8, interleave([grey, grey, grey]))],
    ['8-bit RGBA PNG', () => encodePng(W, H, 'rgba', 8, interleave([grey, grey, grey, alpha]))],
    // 257 maps 0–255 onto 0–65535 exactly: 16-bit decoding must scale back, not clip.
    ['16-bit grey PNG', () => encodePng(W, H, 'grey', 16, interleave([grey], 257))],
    [
      '16-bit grey-with-alpha PNG',
      () =>
        encodePng(
          W,
          H,
          'grey-alpha',
          16,
          interleave([grey, alpha.map((a) => a * 257)], 257).map((v, i) => (i % 2 ? v / 257 : v)),
        ),
    ],
    ['16-bit RGB PNG', () => encodePng(W, H, 'rgb', 16, interleave([grey, grey, grey], 257))],
    ['16-bit RGBA PNG', () => encodePng(W, H, 'rgba', 16, interleave([grey, grey, grey, alpha], 257))],
    [
      'lossless WebP',
      () =>
        sharp(Buffer.from(interleave([grey, grey, grey])), { raw: { width: W, height: H, channels: 3 } })
          .webp({ lossless: true })
          .toBuffer(),
    ],
    [
      'lossless AVIF',
      () =>
        sharp(Buffer.from(interleave([grey, grey, grey])), { raw: { width: W, height: H, channels: 3 } })
          .avif({ lossless: true })
          .toBuffer(),
    ],
    [
      'deflate TIFF',
      () =>
        sharp(Buffer.from(interleave([grey, grey, grey])), { raw: { width: W, height: H, channels: 3 } })
          .tiff({ compression: 'deflate' })
          .toBuffer(),
    ],
    [
      'grey GIF',
      () =>
        sharp(Buffer.from(interleave([grey, grey, grey])), { raw: { width: W, height: H, channels: 3 } })
          .gif({ dither: 0 })
          .toBuffer(),
    ],
  ];
  for (const [label, build] of cases) {
    test(`${label}: the pixels come back (alpha is dropped, not blended)`, async () => {
      const decoded = await decodeImage(await build(), limits);
      assert.equal(decoded.width, W);
      assert.equal(decoded.height, H);
      // GIF holds a palette of at most 256 entries; the rest are exact up to rounding.
      assertGreyPixels(decoded.pixels, label.includes('GIF') ? 2 : 1, label);
    });
  }

  test('16-bit values are scaled to 8 bits, not clipped: mid-grey decodes to about 128', async () => {
    const levels = [0, 257, 0x4000, 0x8000, 0x8080, 0xc000, 0xffff];
    const decoded = await decodeImage(encodePng(levels.length, 1, 'grey', 16, levels), limits);
    const values = levels.map((_, index) => decoded.pixels[index * 3]!);
    expect(values, '16-bit levels scaled by 1/257').toBeCloseToNested(
      levels.map((level) => level / 257),
      { abs: 1 },
    );
    assert.ok(values[3] === 127 || values[3] === 128, `0x8000 decoded to ${values[3]}`);
  });

  test('CMYK JPEG is converted to sRGB through a CMYK profile (not inverted, not read as RGB)', async () => {
    // Patches of known inks, each a whole 8×8 JPEG block so that quantization does not mix them.
    const inks: Array<[string, [number, number, number, number]]> = [
      ['paper', [0, 0, 0, 0]],
      ['black ink', [0, 0, 0, 255]],
      ['cyan', [255, 0, 0, 0]],
      ['magenta', [0, 255, 0, 0]],
      ['yellow', [0, 0, 255, 0]],
      ['half black', [0, 0, 0, 128]],
      ['rich black', [255, 255, 255, 255]],
    ];
    const side = 8;
    const width = side * inks.length;
    const samples: number[] = [];
    for (let row = 0; row < side; row++)
      for (let column = 0; column < width; column++) samples.push(...inks[Math.floor(column / side)]![1]);
    const tiff = encodeCmykTiff(width, side, samples);
    // The JPEG holds these inks up to a profile round trip inside sharp, which moves dark inks a little.
    const jpeg = await sharp(tiff).toColourspace('cmyk').jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).space, 'cmyk', 'test setup: a CMYK JPEG');
    for (const [label, bytes] of [
      ['CMYK TIFF', tiff],
      ['CMYK JPEG', jpeg],
    ] as const) {
      const decoded = await decodeImage(bytes, limits);
      const colour = Object.fromEntries(
        inks.map(([name], index) => {
          const at = ((side / 2) * width + index * side + side / 2) * 3;
          return [name, [...decoded.pixels.subarray(at, at + 3)]];
        }),
      );
      const [r, g, b] = [0, 1, 2];
      const say = (name: string) => `${label}, ${name}: ${colour[name]}`;
      assert.ok(
        colour.paper!.every((value) => value >= 250),
        say('paper is white'),
      );
      assert.ok(
        colour['rich black']!.every((value) => value <= 20),
        say('rich black'),
      );
      assert.ok(
        colour['black ink']!.every((value) => value <= 45),
        say('black ink'),
      );
      assert.ok(
        colour['half black']!.every((value) => value > 80 && value < 180),
        say('half black'),
      );
      assert.ok(colour.cyan![r]! < 60 && colour.cyan![g]! > 120 && colour.cyan![b]! > 190, say('cyan'));
      assert.ok(colour.magenta![g]! < 60 && colour.magenta![r]! > 190 && colour.magenta![b]! > 80, say('magenta'));
      assert.ok(colour.yellow![b]! < 40 && colour.yellow![r]! > 200 && colour.yellow![g]! > 200, say('yellow'));
    }
  });
});

describe('decodeImage: animated and multi-page images decode their first frame or page', () => {
  const frame = (dots: Array<{ x: number; y: number }>) => ({
    input: dotPixels(
      W,
      H,
      dots.map((dot) => ({ ...dot, sigma: 3 })),
    ),
    raw: { width: W, height: H, channels: 3 as const },
  });
  for (const format of ['gif', 'webp', 'tiff'] as const) {
    test(`${format}: two frames, the first comes back at its own size`, async () => {
      const frames = [frame([{ x: 10, y: 10 }]), frame([{ x: 38, y: 26 }])];
      let image = sharp(await Promise.all(frames.map((f) => sharp(f.input, { raw: f.raw }).png().toBuffer())), {
        join: { animated: true },
      });
      image =
        format === 'gif'
          ? image.gif({ dither: 0 })
          : format === 'webp'
            ? image.webp({ lossless: true })
            : image.tiff({ compression: 'deflate' });
      const bytes = await image.toBuffer();
      assert.equal((await sharp(bytes).metadata()).pages, 2, 'test setup: two pages');
      const decoded = await decodeImage(bytes, limits);
      assert.deepEqual([decoded.width, decoded.height], [W, H]);
      const at = (x: number, y: number) => decoded.pixels[(y * W + x) * 3]!;
      assert.ok(at(9, 9) > 200, `first frame's dot is there (${at(9, 9)})`);
      assert.ok(at(37, 25) < 20, `second frame's dot is not (${at(37, 25)})`);
    });
  }
});

describe('decodeImage: damaged and hostile input', () => {
  test('zero bytes: 400 "image is empty"', async () => {
    await expectProblem(Buffer.alloc(0), 400, /image is empty/);
  });

  test('bytes that are no image format: 415', async () => {
    await expectProblem(Buffer.from('%PDF-1.7 not an image at all'), 415, /not a supported image format/);
    await expectProblem(
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="50000" height="50000"/>'),
      415,
      /"svg" is not supported|not a supported/,
    );
  });

  test('truncated JPEG and PNG: 400 naming the format', async () => {
    const jpeg = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }], 'jpeg');
    const png = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }], 'png');
    for (const fraction of [0.3, 0.6, 0.95]) {
      await expectProblem(jpeg.subarray(0, Math.floor(jpeg.length * fraction)), 400, /could not be decoded as jpeg/);
      await expectProblem(png.subarray(0, Math.floor(png.length * fraction)), 400, /could not be decoded as png/);
    }
    // A signature and header with no pixel data at all.
    await expectProblem(png.subarray(0, 33), 400, /could not be decoded as png: its header is damaged or incomplete/);
  });

  test('corrupt JPEG headers and PNG data: 400 naming the format, not 415', async () => {
    const jpeg = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }], 'jpeg');
    const huffman = Buffer.from(jpeg);
    const dht = huffman.indexOf(Buffer.from([0xff, 0xc4]));
    huffman.fill(0xff, dht + 4, dht + 24);
    await expectProblem(huffman, 400, /could not be decoded as jpeg: its header is damaged.*Huffman/);

    const png = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }], 'png');
    const flipped = Buffer.from(png);
    flipped[png.indexOf('IDAT') + 20]! ^= 0x10;
    await expectProblem(flipped, 400, /could not be decoded as png/);
    const badHeaderCrc = Buffer.from(png);
    badHeaderCrc[29]! ^= 0xff;
    await expectProblem(badHeaderCrc, 400, /could not be decoded as png/);
  });

  test('damage inside JPEG entropy-coded data that libjpeg recovers from is decoded, as browsers do', async () => {
    // Decided behaviour: failOn 'error' stops on truncation and broken headers but, like browsers,
    // shows what libjpeg recovers from a damaged scan. Failing on warnings would also refuse the many
    // real PNGs with benign warnings (an sRGB profile libpng calls incorrect, for one).
    const jpeg = await dotImage(200, 150, [{ x: 60, y: 70, sigma: 3 }], 'jpeg');
    const damaged = Buffer.from(jpeg);
    const scan = damaged.indexOf(Buffer.from([0xff, 0xda]));
    for (let index = scan + 40; index < scan + 140; index++) damaged[index]! ^= 0x5a;
    const decoded = await decodeImage(damaged, limits);
    assert.deepEqual([decoded.width, decoded.height], [200, 150]);
  });

  test('a tiny PNG declaring 50000×50000 is refused 413 from its header, before any pixel is decoded', async () => {
    const bomb = pngClaiming(50_000, 50_000);
    assert.ok(bomb.length < 1024, `test setup: ${bomb.length} bytes`);
    const before = process.memoryUsage.rss();
    for (let round = 0; round < 20; round++) {
      await expectProblem(bomb, 413, /50000×50000 = 2500000000 pixels, over the limit of 40000000/);
    }
    // Decoding even one row band of 7.5 GB of RGB would show here; the header alone costs nothing.
    const grown = process.memoryUsage.rss() - before;
    assert.ok(grown < 64 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  });

  test('the pixel limit counts width × height of the (first) frame', async () => {
    await expectProblem(
      encodePng(W, H, 'grey', 8, grey),
      413,
      new RegExp(`${W}×${H} = ${W * H} pixels, over the limit of ${W * H - 1}`),
      W * H - 1,
    );
    const decoded = await decodeImage(encodePng(W, H, 'grey', 8, grey), { maxPixels: W * H });
    assert.equal(decoded.width, W);
  });
});
