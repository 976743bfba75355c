import sharp from 'sharp';
import { describe, expect, test } from 'vitest';
import { DOT_RADIUS_UNITS, legendRect, overlaySvg, strokeUnit, type DrawnKeypoint } from '../../src/render/overlay-svg.js';
import { relativeRmse, uncertaintyRgb } from '../../src/render/uncertainty-colour.js';
import { createRng } from '../helpers/prng.js';

function keypoint(name: string, x: number, y: number, rmse: number, angle = -30): DrawnKeypoint {
  return {
    name,
    x,
    y,
    covariance: [
      [4, 1],
      [1, 3],
    ],
    ellipse: { level: 0.95, semiMajor: 9, semiMinor: 4, angle },
    rmse,
  };
}

describe('overlaySvg', () => {
  test('the pixel holding each mean is the keypoint colour exactly, wherever in its pixel the mean falls and at any image size', async () => {
    const rng = createRng(2024);
    for (const [width, height] of [
      [96, 80],
      [640, 480],
      [2400, 1800],
    ] as const) {
      const box = { x: 0, y: 0, width, height };
      const keypoints = Array.from({ length: 12 }, (_, index) =>
        keypoint(
          `k${index}`,
          rng.range(10, width - 10),
          rng.range(10, height - 10),
          rng.range(0.001, 0.2) * Math.hypot(width, height),
        ),
      );
      const svg = overlaySvg({ width, height, instances: [{ box, keypoints }], edges: [], trained: true });
      const composed = await sharp({ create: { width, height, channels: 3, background: { r: 90, g: 90, b: 90 } } })
        .composite([{ input: Buffer.from(svg) }])
        .png()
        .toBuffer();
      const { data, info } = await sharp(composed).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([width, height]);
      for (const k of keypoints) {
        // Dots drawn later may cover earlier ones; only check means no other dot reaches.
        const reach = 2 * DOT_RADIUS_UNITS * strokeUnit(width, height) + 2;
        if (keypoints.some((other) => other !== k && Math.hypot(other.x - k.x, other.y - k.y) < reach)) continue;
        const offset = (Math.floor(k.y) * width + Math.floor(k.x)) * 3;
        expect([...data.subarray(offset, offset + 3)], `${k.name} in ${width}×${height}`).toEqual(
          uncertaintyRgb(relativeRmse(k.rmse, box)),
        );
      }
    }
  });

  test('names are escaped, so any keypoint name leaves a well-formed document', async () => {
    const svg = overlaySvg({
      width: 200,
      height: 150,
      instances: [{ box: { x: 10, y: 10, width: 100, height: 100 }, keypoints: [keypoint('a<b & "c"', 50, 50, 3)] }],
      edges: [],
      trained: true,
    });
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;');
    expect(svg).not.toContain('a<b');
    const metadata = await sharp(Buffer.from(svg)).metadata();
    expect([metadata.width, metadata.height]).toEqual([200, 150]);
  });

  test("edges join the instance's own means and skip indices it does not have", () => {
    const svg = overlaySvg({
      width: 300,
      height: 200,
      instances: [
        { box: { x: 0, y: 0, width: 100, height: 100 }, keypoints: [keypoint('a', 10, 20, 2), keypoint('b', 30, 40, 2)] },
        { box: { x: 150, y: 0, width: 100, height: 100 }, keypoints: [keypoint('a', 160, 20, 2), keypoint('b', 180, 45, 2)] },
      ],
      edges: [
        [0, 1],
        [1, 7],
      ],
      trained: true,
    });
    const lines = [...svg.matchAll(/<line class="edge" x1="([^"]+)" y1="([^"]+)" x2="([^"]+)" y2="([^"]+)"/g)].map((match) =>
      match.slice(1).map(Number),
    );
    expect(lines).toEqual([
      [10, 20, 30, 40],
      [160, 20, 180, 45],
    ]);
  });

  test('the legend sits inside the image when there is room, and is left out of small images', () => {
    expect(legendRect(120, 90)).toBeNull();
    for (const [width, height] of [
      [480, 360],
      [4000, 3000],
    ] as const) {
      const rect = legendRect(width, height);
      expect(rect).not.toBeNull();
      expect(rect!.x).toBeGreaterThanOrEqual(0);
      expect(rect!.y).toBeGreaterThanOrEqual(0);
      expect(rect!.x + rect!.width).toBeLessThanOrEqual(0.6 * width);
      expect(rect!.y + rect!.height).toBeLessThanOrEqual(height);
    }
    const small = overlaySvg({ width: 120, height: 90, instances: [], edges: [], trained: true });
    expect(small).not.toContain('class="legend"');
  });

  test('a picture from an untrained model says so in its legend', () => {
    const drawing = {
      width: 640,
      height: 480,
      instances: [{ box: { x: 100, y: 100, width: 200, height: 200 }, keypoints: [keypoint('a', 150, 150, 4)] }],
      edges: [],
    };
    expect(overlaySvg({ ...drawing, trained: false })).toMatch(/<g class="legend"[^]*untrained model[^]*<\/g>/);
    expect(overlaySvg({ ...drawing, trained: true })).not.toContain('untrained');
  });
});
