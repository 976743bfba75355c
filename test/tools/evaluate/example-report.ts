/**
 * Regenerates docs/evaluate-example/: the dots fixture model served on loopback, a generated COCO-format set
 * of two-dot images whose ground truths scatter around the dots, and the evaluate CLI run against it.
 * Run: `npx tsx test/tools/evaluate/example-report.ts docs/evaluate-example`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../tools/evaluate/cli.js';
import { dotImage } from '../../helpers/images.js';
import { createRng } from '../../helpers/prng.js';
import { startService } from '../../helpers/service.js';

const out = path.resolve(process.argv[2] ?? 'docs/evaluate-example');
const rng = createRng(2026);
const service = await startService({ models: ['dots'] });
const work = await mkdtemp(path.join(os.tmpdir(), 'evaluate-example-'));
try {
  const images = [];
  const annotations = [];
  for (let i = 0; i < 150; i++) {
    const width = rng.range(120, 240);
    const height = 0.75 * width;
    const box = { x: rng.range(0, 400 - width), y: rng.range(0, 300 - height), width, height };
    const cx = box.x + width / 2;
    const cy = box.y + height / 2;
    const half = rng.range(0.15, 0.35) * width;
    const dots = [-1, 1].map((side) => ({ x: cx + side * half, y: cy + rng.range(-0.3, 0.3) * height, sigma: 3 }));
    const file = `dots-${String(i).padStart(2, '0')}.png`;
    await writeFile(path.join(work, file), await dotImage(400, 300, dots));
    // Annotators disagree with the dot centre by an amount that grows with the box, with a heavier tail for some images.
    const spread = 0.02 * Math.hypot(width, height) * (rng.uniform() < 0.2 ? 2.5 : 1);
    const keypoints = dots.flatMap((dot) => [dot.x + spread * rng.normal(), dot.y + spread * rng.normal(), 2]);
    images.push({ id: i, file_name: file, width: 400, height: 300 });
    annotations.push({
      id: i + 1,
      image_id: i,
      category_id: 1,
      bbox: [box.x, box.y, width, height],
      keypoints,
      num_keypoints: 2,
    });
  }
  const sigmas = [0.025, 0.025];
  const annotationFile = path.join(work, 'dots_keypoints.json');
  await writeFile(
    annotationFile,
    JSON.stringify({ images, annotations, sigmas, categories: [{ id: 1, name: 'dots', keypoints: ['left_dot', 'right_dot'] }] }),
  );
  process.exitCode = await main([
    '--url',
    service.url,
    '--model',
    'dots',
    '--format',
    'coco',
    '--annotations',
    annotationFile,
    '--images',
    work,
    '--out',
    out,
  ]);
} finally {
  await service.close();
  await rm(work, { recursive: true, force: true });
}
