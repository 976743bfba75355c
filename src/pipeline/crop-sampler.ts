import type { PlanarAffine } from '../huber/index.js';
import type { DecodedImage } from './image-decoder.js';

export type Padding = 'reflect' | 'edge' | 'constant';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The square that one box is sampled from, in continuous image coordinates (docs/spec.md §3). Nothing is
 * rounded: the network input point q maps to image point `origin + q · side / inputSize` exactly.
 */
export interface CropGeometry {
  originX: number;
  originY: number;
  side: number;
  inputSize: number;
}

export function planCrop(box: Box, scale: number, inputSize: number): CropGeometry {
  const side = scale * Math.hypot(box.width, box.height);
  const centreX = box.x + box.width / 2;
  const centreY = box.y + box.height / 2;
  return { originX: centreX - side / 2, originY: centreY - side / 2, side, inputSize };
}

/** Input coordinates of the un-mirrored view to image coordinates. */
export function inputToImage(crop: CropGeometry): PlanarAffine {
  const step = crop.side / crop.inputSize;
  return { m: [step, 0, 0, step], t: [crop.originX, crop.originY] };
}

/** Input coordinates of the mirrored view (q' = (S − q_x, q_y)) to image coordinates. */
export function mirroredInputToImage(crop: CropGeometry): PlanarAffine {
  const step = crop.side / crop.inputSize;
  return { m: [-step, 0, 0, step], t: [crop.originX + crop.side, crop.originY] };
}

/** Maps an integer pixel index outside [0, n) back inside, or −1 for constant padding. */
function wrapIndex(index: number, n: number, padding: Padding): number {
  if (index >= 0 && index < n) return index;
  if (padding === 'constant') return -1;
  if (padding === 'edge') return index < 0 ? 0 : n - 1;
  // Reflection about the image border itself (pixel −1 mirrors pixel 0), the continuous mirror of the
  // picture; it repeats with period 2n so crops far larger than the image still get a value.
  const period = 2 * n;
  const folded = ((index % period) + period) % period;
  return folded < n ? folded : period - 1 - folded;
}

interface AxisTaps {
  low: Int32Array;
  high: Int32Array;
  weight: Float32Array;
}

function axisTaps(origin: number, step: number, count: number, n: number, padding: Padding): AxisTaps {
  const low = new Int32Array(count);
  const high = new Int32Array(count);
  const weight = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    // Pixel centres sit at half-integers in both spaces.
    const position = origin + (i + 0.5) * step - 0.5;
    const floor = Math.floor(position);
    low[i] = wrapIndex(floor, n, padding);
    high[i] = wrapIndex(floor + 1, n, padding);
    weight[i] = position - floor;
  }
  return { low, high, weight };
}

export interface PixelNormalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * Samples the crop once, bilinearly, into `target` as normalized NCHW float32 starting at `offset`,
 * and, when `mirrorOffset` is given, its left-right mirror as a second item at that offset.
 */
export function sampleCrop(
  image: DecodedImage,
  crop: CropGeometry,
  padding: Padding,
  normalization: PixelNormalization,
  target: Float32Array,
  offset: number,
  mirrorOffset: number | null,
): void {
  const size = crop.inputSize;
  const step = crop.side / size;
  const columns = axisTaps(crop.originX, step, size, image.width, padding);
  const rows = axisTaps(crop.originY, step, size, image.height, padding);
  const plane = size * size;
  const pixels = image.pixels;
  const stride = image.width * 3;
  const scale = [0, 1, 2].map((c) => 1 / (255 * normalization.std[c]!));
  const shift = [0, 1, 2].map((c) => normalization.mean[c]! / normalization.std[c]!);
  if (hasOutsideTap(columns) || hasOutsideTap(rows)) {
    sampleWithConstantPadding(pixels, stride, size, columns, rows, scale, shift, target, offset, mirrorOffset);
    return;
  }
  // Every tap lies in the image: no per-sample bounds tests, the three channels unrolled. It runs on the
  // event loop for every crop, so it is worth the twin below (same expression, same float32 results).
  const [scale0, scale1, scale2] = scale as [number, number, number];
  const [shift0, shift1, shift2] = shift as [number, number, number];
  const lowColumn = columns.low.map((column) => column * 3);
  const highColumn = columns.high.map((column) => column * 3);
  const green = offset + plane;
  const blue = offset + 2 * plane;
  for (let row = 0; row < size; row++) {
    const wy = rows.weight[row]!;
    const baseLow = rows.low[row]! * stride;
    const baseHigh = rows.high[row]! * stride;
    const rowStart = row * size;
    const mirroredEnd = rowStart + size - 1;
    for (let column = 0; column < size; column++) {
      const wx = columns.weight[column]!;
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      const i00 = baseLow + lowColumn[column]!;
      const i01 = baseLow + highColumn[column]!;
      const i10 = baseHigh + lowColumn[column]!;
      const i11 = baseHigh + highColumn[column]!;
      const index = rowStart + column;
      const r = (w00 * pixels[i00]! + w01 * pixels[i01]! + w10 * pixels[i10]! + w11 * pixels[i11]!) * scale0 - shift0;
      const g =
        (w00 * pixels[i00 + 1]! + w01 * pixels[i01 + 1]! + w10 * pixels[i10 + 1]! + w11 * pixels[i11 + 1]!) * scale1 - shift1;
      const b =
        (w00 * pixels[i00 + 2]! + w01 * pixels[i01 + 2]! + w10 * pixels[i10 + 2]! + w11 * pixels[i11 + 2]!) * scale2 - shift2;
      target[offset + index] = r;
      target[green + index] = g;
      target[blue + index] = b;
      if (mirrorOffset !== null) {
        const mirrored = mirroredEnd - column;
        target[mirrorOffset + mirrored] = r;
        target[mirrorOffset + plane + mirrored] = g;
        target[mirrorOffset + 2 * plane + mirrored] = b;
      }
    }
  }
}

function hasOutsideTap(taps: AxisTaps): boolean {
  for (let i = 0; i < taps.low.length; i++) if (taps.low[i]! < 0 || taps.high[i]! < 0) return true;
  return false;
}

/** The general loop: a tap outside the image (constant padding, index −1) reads 0. */
function sampleWithConstantPadding(
  pixels: Uint8Array,
  stride: number,
  size: number,
  columns: AxisTaps,
  rows: AxisTaps,
  scale: number[],
  shift: number[],
  target: Float32Array,
  offset: number,
  mirrorOffset: number | null,
): void {
  const plane = size * size;
  for (let row = 0; row < size; row++) {
    const wy = rows.weight[row]!;
    const rowLow = rows.low[row]!;
    const rowHigh = rows.high[row]!;
    const baseLow = rowLow * stride;
    const baseHigh = rowHigh * stride;
    for (let column = 0; column < size; column++) {
      const wx = columns.weight[column]!;
      const colLow = columns.low[column]!;
      const colHigh = columns.high[column]!;
      const w00 = (1 - wx) * (1 - wy);
      const w01 = wx * (1 - wy);
      const w10 = (1 - wx) * wy;
      const w11 = wx * wy;
      const index = row * size + column;
      const mirrored = row * size + (size - 1 - column);
      for (let channel = 0; channel < 3; channel++) {
        const v00 = rowLow < 0 || colLow < 0 ? 0 : pixels[baseLow + colLow * 3 + channel]!;
        const v01 = rowLow < 0 || colHigh < 0 ? 0 : pixels[baseLow + colHigh * 3 + channel]!;
        const v10 = rowHigh < 0 || colLow < 0 ? 0 : pixels[baseHigh + colLow * 3 + channel]!;
        const v11 = rowHigh < 0 || colHigh < 0 ? 0 : pixels[baseHigh + colHigh * 3 + channel]!;
        const value = (w00 * v00 + w01 * v01 + w10 * v10 + w11 * v11) * scale[channel]! - shift[channel]!;
        target[offset + channel * plane + index] = value;
        if (mirrorOffset !== null) target[mirrorOffset + channel * plane + mirrored] = value;
      }
    }
  }
}
