import { expect, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { assertHuberSignature } from '../helpers/onnx-signature.js';
import { DEFAULT_MODEL_NAME, defaultManifest } from '../../tools/model-builder/default-model.js';
import { formatManifest } from '../../src/models/manifest-json.js';
import { WFLW_FLIP_PAIRS, WFLW_KEYPOINT_NAMES } from '../../tools/model-builder/wflw.js';
import { WFLW_HALF_PRECISION_224, WFLW_MEAN_224 } from '../../tools/model-builder/wflw-normalizer.js';
import { ensureDefaultModel } from '../../scripts/ensure-default-model.js';
import { SeededRandom } from '../../tools/seeded-random.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Pins "the same bytes every time, on every machine". If this changes on
// purpose (new seed, topology or scaling), bump the manifest version too.
const DEFAULT_MODEL_SHA256 = '6934d678b7b7b9470d2d4699490340c670e0aaddbf84070d26cfdcb5357fceb6';

test('the committed manifest is defaultManifest(), formatted', async () => {
  const committed = await readFile(join(repoRoot, 'models', DEFAULT_MODEL_NAME, 'manifest.json'), 'utf8');
  assert.equal(committed, formatManifest(defaultManifest()));
  const m = defaultManifest();
  assert.equal(m.trained, false);
  assert.match(m.description, /untrained/i);
  assert.equal(m.keypoints.length, 98);
  assert.equal(new Set(m.keypoints.map((k) => k.name)).size, 98);
});

test('WFLW flip pairs are docs/spec.md §7, and the reference mean shape is (nearly) their mirror image', () => {
  assert.equal(WFLW_KEYPOINT_NAMES.length, 98);
  const seen = new Set<number>();
  for (const [a, b] of WFLW_FLIP_PAIRS) {
    assert.ok(!seen.has(a) && !seen.has(b));
    seen.add(a).add(b);
  }
  assert.equal(WFLW_FLIP_PAIRS.length, 16 + 9 + 2 + 8 + 8 + 1);
  assert.deepEqual(WFLW_FLIP_PAIRS.slice(16, 18), [
    [33, 46],
    [34, 45],
  ]);
  assert.deepEqual(WFLW_FLIP_PAIRS.at(-1), [96, 97]);
  // Measured WFLW statistics, so the symmetry is approximate: the face's midline and each pair's
  // mirror agree to a few pixels of the 224-px crop.
  const mean = WFLW_MEAN_224;
  const midline = (mean[54]![0] + mean[57]![0] + mean[16]![0]) / 3;
  for (const [a, b] of WFLW_FLIP_PAIRS) {
    expect(mean[a]![0] + mean[b]![0]).toBeCloseToNested(2 * midline, { abs: 6 });
    expect(mean[a]![1]).toBeCloseToNested(mean[b]![1], { abs: 6 });
    const [na, nb] = [WFLW_KEYPOINT_NAMES[a]!, WFLW_KEYPOINT_NAMES[b]!];
    if (/^right_/.test(na)) assert.equal(nb, na.replace(/^right_/, 'left_'));
    else assert.equal(na.replace(/_\d+$/, ''), nb.replace(/_\d+$/, ''));
  }
  for (const [x, y] of mean) assert.ok(x > 30 && x < 194 && y > 40 && y < 210);
  // Right eye outer corner is on the image's left.
  assert.ok(mean[60]![0] < mean[72]![0]);
});

test("the default manifest carries the reference code's WFLW normalization, scaled to its crop", () => {
  const { keypoints, input } = defaultManifest();
  const scale = input.size / 224;
  keypoints.forEach((keypoint, k) => {
    expect(keypoint.mean).toBeCloseToNested([WFLW_MEAN_224[k]![0] * scale, WFLW_MEAN_224[k]![1] * scale], { rel: 1e-15 });
    const reference = WFLW_HALF_PRECISION_224[k]!;
    expect(keypoint.whitening).toBeCloseToNested(
      reference.map((row) => row.map((value) => value / scale)),
      { rel: 1e-15 },
    );
  });
  // The reference constants are symmetric to rounding only; the manifest must keep them as they are.
  assert.ok(keypoints.some((keypoint) => keypoint.whitening![0]![1] !== keypoint.whitening![1]![0]));
});

test('ensureDefaultModel writes a deterministic resnet101 that loads and gives finite, small outputs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'default-model-'));
  try {
    const first = await ensureDefaultModel(dir);
    assert.equal(first.modelCreated, true);
    assert.equal(first.manifestCreated, true);
    const again = await ensureDefaultModel(dir);
    assert.equal(again.modelCreated, false);
    assert.equal(again.manifestCreated, false);
    assert.equal(again.bytes, first.bytes);

    const bytes = await readFile(first.modelPath);
    const digest = createHash('sha256').update(bytes).digest('hex');
    assert.equal(digest, DEFAULT_MODEL_SHA256);
    assert.ok((await stat(first.manifestPath)).size > 0);

    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
    assertHuberSignature(session, 224, 98);

    // Uniform random pixels, normalized as the manifest says.
    const { mean, std } = defaultManifest().input;
    const rng = new SeededRandom(3);
    const x = new Float32Array(3 * 224 * 224);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / (224 * 224));
      x[i] = (rng.nextUint32() / 2 ** 32 - mean[c]!) / std[c]!;
    }
    const y = (await session.run({ input: new ort.Tensor('float32', x, [1, 3, 224, 224]) })).output!.data as Float32Array;
    assert.equal(y.length, 490);
    for (let k = 0; k < 98; k++) {
      for (const slot of [0, 1, 3]) {
        const v = y[5 * k + slot];
        assert.ok(Number.isFinite(v) && Math.abs(v!) < 5, `keypoint ${k} slot ${slot} = ${v}`);
      }
      for (const slot of [2, 4]) {
        const v = y[5 * k + slot];
        assert.ok(Number.isFinite(v) && Math.abs(v! + 20) < 5, `keypoint ${k} slot ${slot} = ${v}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
