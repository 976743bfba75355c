import sharp from 'sharp';
import { SeededRandom } from '../tools/seeded-random.js';

/**
 * A photo-like RGB JPEG: smooth lighting gradients, soft-edged ellipses (a face-sized one among
 * them) and sensor-like noise. Flat synthetic images compress to almost nothing and decode far
 * faster than camera pictures; the noise keeps the entropy, and so the decode cost, realistic.
 */
export async function syntheticPhoto(
  width = 1280,
  height = 720,
  seed = 7,
): Promise<{ jpeg: Buffer; face: { x: number; y: number; width: number; height: number } }> {
  const generator = new SeededRandom(seed);
  const random = () => generator.nextUniform();
  const pixels = new Float32Array(width * height * 3);
  const base = [0, 1, 2].map(() => 60 + 120 * random());
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const offset = (y * width + x) * 3;
      pixels[offset] = base[0]! + 60 * u - 30 * v;
      pixels[offset + 1] = base[1]! + 40 * Math.sin(3 * u + 2 * v);
      pixels[offset + 2] = base[2]! - 50 * u + 40 * v * v;
    }
  }
  const face = { x: 470, y: 150, width: 300, height: 380 };
  const shapes = [
    {
      cx: face.x + face.width / 2,
      cy: face.y + face.height / 2,
      rx: face.width / 2,
      ry: face.height / 2,
      colour: [225, 180, 150],
    },
    ...Array.from({ length: 24 }, () => ({
      cx: width * random(),
      cy: height * random(),
      rx: 10 + 150 * random(),
      ry: 10 + 150 * random(),
      colour: [255 * random(), 255 * random(), 255 * random()],
    })),
  ];
  for (const shape of shapes) {
    const x0 = Math.max(0, Math.floor(shape.cx - shape.rx - 2));
    const x1 = Math.min(width, Math.ceil(shape.cx + shape.rx + 2));
    const y0 = Math.max(0, Math.floor(shape.cy - shape.ry - 2));
    const y1 = Math.min(height, Math.ceil(shape.cy + shape.ry + 2));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const d = Math.hypot((x + 0.5 - shape.cx) / shape.rx, (y + 0.5 - shape.cy) / shape.ry);
        const alpha = Math.min(1, Math.max(0, (1 - d) * 8)) * 0.85;
        if (alpha === 0) continue;
        const offset = (y * width + x) * 3;
        for (let c = 0; c < 3; c++) pixels[offset + c] = pixels[offset + c]! * (1 - alpha) + shape.colour[c]! * alpha;
      }
    }
  }
  const bytes = Buffer.alloc(width * height * 3);
  for (let i = 0; i < bytes.length; i++) {
    // Roughly Gaussian noise (sum of uniforms), σ ≈ 6 grey levels.
    const noise = (random() + random() + random() - 1.5) * 12;
    bytes[i] = Math.min(255, Math.max(0, Math.round(pixels[i]! + noise)));
  }
  const jpeg = await sharp(bytes, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  return { jpeg, face };
}
