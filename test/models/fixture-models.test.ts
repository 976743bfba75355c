import { expect, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  BROKEN_MODEL_KINDS,
  DOTS_A,
  DOTS_B_RAW,
  DOTS_EIGENVALUE_OFFSET,
  DOTS_NU_NORMALIZATION,
  buildDotsModel,
  fixtureModel,
  writeFixtureRepository,
} from '../helpers/fixture-models.js';

const S = 64;
type V2 = [number, number];
type M2 = [V2, V2];

/** Pixel values v/255 (what the dots manifests' mean 0 / std 1 pass through), NCHW, one image. */
function image(dots: { x: number; y: number; r: number; v: number[] }[], noise = 0, seed = 1): Float32Array {
  const px = new Float32Array(3 * S * S);
  let s = seed;
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      for (let c = 0; c < 3; c++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        let v = noise * ((s >>> 8) / 16777216);
        for (const d of dots) if ((j + 0.5 - d.x) ** 2 + (i + 0.5 - d.y) ** 2 <= d.r * d.r) v = Math.max(v, d.v[c]!);
        px[(c * S + i) * S + j] = v;
      }
    }
  }
  return px;
}

/** Closed form, in float64: intensity centroid of each half (left x < S/2, right). */
function centroids(px: Float32Array): [V2, V2] {
  const acc = [
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) {
        const v = px[(c * S + i) * S + j];
        const h = j < S / 2 ? 0 : 1;
        acc[h]![0]! += v!;
        acc[h]![1]! += v! * (j + 0.5);
        acc[h]![2]! += v! * (i + 0.5);
      }
    }
  }
  return acc.map(([m, sx, sy], h) => (m! > 0 ? [sx! / m!, sy! / m!] : [S / 4 + (h * S) / 2, S / 2])) as [V2, V2];
}

const mul = (m: M2, v: V2): V2 => [m[0][0] * v[0] + m[0][1] * v[1], m[1][0] * v[0] + m[1][1] * v[1]];
const inv = (m: M2): M2 => {
  const d = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  return [
    [m[1][1] / d, -m[0][1] / d],
    [-m[1][0] / d, m[0][0] / d],
  ];
};

const IMAGES = [
  image([{ x: 10.5, y: 20.5, r: 0.6, v: [1, 1, 1] }, { x: 50.5, y: 40.5, r: 0.6, v: [1, 1, 1] }]),
  image([{ x: 21.3, y: 7.9, r: 3.2, v: [1, 0.5, 0.2] }, { x: 44.1, y: 58.6, r: 2.5, v: [0.3, 0.9, 1] }], 0.05, 9),
  image([{ x: 40, y: 30, r: 4, v: [1, 1, 1] }]), // left half empty
];

test('dots (mu): raw outputs are the closed-form centroids and the constant b’s, batch 1 and 3', async () => {
  const session = await ort.InferenceSession.create(buildDotsModel());
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  assert.ok(input!.isTensor && output!.isTensor);
  assert.deepEqual(input!.shape, ['N', 3, S, S]);
  assert.deepEqual(output!.shape, ['N', 10]);

  const batch = new Float32Array(3 * 3 * S * S);
  IMAGES.forEach((img, b) => batch.set(img, b * img.length));
  for (const n of [1, 3]) {
    const y = (await session.run({ input: new ort.Tensor('float32', batch.subarray(0, n * 3 * S * S), [n, 3, S, S]) }))
      .output!.data as Float32Array;
    assert.equal(y.length, 10 * n);
    for (let b = 0; b < n; b++) {
      const c = centroids(IMAGES[b]!);
      for (let k = 0; k < 2; k++) {
        const o = y.subarray(10 * b + 5 * k, 10 * b + 5 * k + 5);
        expect(o.subarray(0, 2), `image ${b} kp ${k}`).toBeCloseToNested(c[k]!, { abs: 1e-3 });
        expect(o.subarray(2, 5), `image ${b} kp ${k} b`).toBeCloseToNested(DOTS_B_RAW, { abs: 1e-5 });
      }
    }
  }
  // The first image's dots sit exactly at their pixel centres.
  const y = (await session.run({ input: new ort.Tensor('float32', IMAGES[0]!, [1, 3, S, S]) })).output!.data as Float32Array;
  expect([y[0], y[1], y[5], y[6]]).toBeCloseToNested([10.5, 20.5, 50.5, 40.5], { abs: 1e-4 });
});

test('the dots b’s decode (SPEC §2, offset 25.5) to the documented A, eigenvalues 2.25 and 1', () => {
  const b11 = DOTS_B_RAW[0] + DOTS_EIGENVALUE_OFFSET;
  const b12 = DOTS_B_RAW[1] / Math.SQRT2;
  const b22 = DOTS_B_RAW[2] + DOTS_EIGENVALUE_OFFSET;
  assert.deepEqual([b11, b22], [DOTS_A[0][0], DOTS_A[1][1]]);
  expect(b12).toBeCloseToNested(DOTS_A[0][1], { abs: 1e-15 });
  const tr = b11 + b22;
  const det = b11 * b22 - b12 * b12;
  const disc = Math.sqrt(tr * tr - 4 * det);
  expect([(tr + disc) / 2, (tr - disc) / 2]).toBeCloseToNested([2.25, 1], { abs: 1e-12 });
});

test('dots-nu: ν = A·H_k(c − m_k), so decoding μ = A⁻¹ν and q = H_k⁻¹μ + m_k gives the centroid', async () => {
  const session = await ort.InferenceSession.create(
    buildDotsModel({ parameterization: 'nu', normalization: DOTS_NU_NORMALIZATION }),
  );
  for (const img of IMAGES) {
    const y = (await session.run({ input: new ort.Tensor('float32', img, [1, 3, S, S]) })).output!.data as Float32Array;
    const c = centroids(img);
    for (let k = 0; k < 2; k++) {
      const { mean, whitening } = DOTS_NU_NORMALIZATION[k]!;
      const mu = mul(inv(DOTS_A), [y[5 * k]!, y[5 * k + 1]!]);
      const q = mul(inv(whitening), mu);
      const qx = q[0] + mean[0];
      const qy = q[1] + mean[1];
      expect([qx, qy], `kp ${k}`).toBeCloseToNested(c[k]!, { abs: 1e-3 });
    }
  }
});

test('writeFixtureRepository writes loadable good models and the requested broken folders', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fixture-repo-'));
  try {
    const repo = await writeFixtureRepository(dir, { models: ['dots', 'dots-nu'], broken: BROKEN_MODEL_KINDS });
    assert.deepEqual(repo.models, ['dots', 'dots-nu']);
    assert.equal((await readdir(dir)).length, 2 + BROKEN_MODEL_KINDS.length);
    for (const name of repo.models) {
      const manifest = JSON.parse(await readFile(join(dir, name, 'manifest.json'), 'utf8'));
      assert.equal(manifest.name, name);
      assert.deepEqual(manifest.flipPairs, [[0, 1]]);
      assert.deepEqual(manifest.keypoints.map((k: { name: string }) => k.name), ['left_dot', 'right_dot']);
      await ort.InferenceSession.create(join(dir, name, 'model.onnx'));
    }
    await assert.rejects(ort.InferenceSession.create(join(dir, 'broken-corrupt-onnx', 'model.onnx')));
    await assert.rejects(ort.InferenceSession.create(join(dir, 'broken-truncated-onnx', 'model.onnx')));
    await assert.rejects(stat(join(dir, 'broken-missing-onnx', 'model.onnx')));
    const wrongWidth = JSON.parse(await readFile(join(dir, 'broken-wrong-output-width', 'manifest.json'), 'utf8'));
    assert.equal(wrongWidth.keypoints.length * 5, 15);
    const unparsable = await readFile(join(dir, 'broken-unparsable-manifest', 'manifest.json'), 'utf8');
    assert.throws(() => JSON.parse(unparsable));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('resnet18-huber-tiny fixture: WFLW manifest and a [N,3,224,224] → [N,490] model', async () => {
  const { manifest, onnx } = fixtureModel('resnet18-huber-tiny');
  assert.equal(manifest.keypoints.length, 98);
  assert.equal(manifest.flipPairs.length, 44);
  assert.equal(manifest.distribution.parameterization, 'nu');
  const session = await ort.InferenceSession.create(onnx);
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  assert.ok(input!.isTensor && output!.isTensor);
  assert.deepEqual(input!.shape, ['N', 3, manifest.input.size, manifest.input.size]);
  assert.deepEqual(output!.shape, ['N', 5 * manifest.keypoints.length]);
  assert.equal(fixtureModel('resnet18-huber-tiny').onnx, onnx, 'memoized, not rebuilt');
});
