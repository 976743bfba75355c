import { expect, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { assertHuberSignature } from '../helpers/onnx-signature.js';
import { buildResNetHuber, buildResNetHuberGraph } from '../../tools/model-builder/resnet-huber.js';
import { SeededRandom } from '../../tools/seeded-random.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A normalized, image-like input: smooth gradients plus noise. */
function imageLike(n: number, size: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const data = new Float32Array(n * 3 * size * size);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          const v = 0.5 + 0.3 * Math.sin((i + 7 * b) / 17 + c) * Math.cos(j / 23) + 0.1 * rng.nextNormal();
          data[((b * 3 + c) * size + i) * size + j] = (v - 0.45) / 0.225;
        }
      }
    }
  }
  return data;
}

test('resnet18 builds are byte-deterministic per seed', () => {
  const a = buildResNetHuber({ blocks: 'resnet18', keypoints: 98, seed: 7 });
  const b = buildResNetHuber({ blocks: 'resnet18', keypoints: 98, seed: 7 });
  const c = buildResNetHuber({ blocks: 'resnet18', keypoints: 98, seed: 8 });
  assert.equal(sha256(a), sha256(b));
  assert.notEqual(sha256(a), sha256(c));
  assert.equal(a.length, c.length);
});

test('parameter counts match torchvision (trunk) plus the paper head', () => {
  // torchvision resnet18 has 11,689,512 parameters, 513,000 of them in fc;
  // folding BN into conv adds a bias per conv channel and drops γ, β.
  const g = buildResNetHuberGraph({ blocks: 'resnet18', keypoints: 98 });
  const trunkWeights = 11_689_512 - 513_000;
  const bnParams = 2 * (64 + 2 * 2 * (64 + 128 + 256 + 512) + 128 + 256 + 512);
  const convBiases = bnParams / 2;
  const head = 512 * 49 + 512 + 490 * 512 + 490;
  assert.equal(g.parameterCount, trunkWeights - bnParams + convBiases + head);
});

test('resnet18-huber loads, has [N,3,S,S] → [N,5K], batch 1 and 3, finite and small', async () => {
  const session = await ort.InferenceSession.create(buildResNetHuber({ blocks: 'resnet18', keypoints: 98, seed: 7 }), {
    intraOpNumThreads: 2,
  });
  assertHuberSignature(session, 224, 98);

  const batch = imageLike(3, 224, 1);
  const three = (await session.run({ input: new ort.Tensor('float32', batch, [3, 3, 224, 224]) })).output;
  assert.deepEqual(three!.dims, [3, 490]);
  const y3 = three!.data as Float32Array;
  let maxAbs = 0;
  for (const v of y3) {
    assert.ok(Number.isFinite(v));
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  assert.ok(maxAbs > 1e-3 && maxAbs < 10, `max |output| = ${maxAbs}`);

  const one = (await session.run({ input: new ort.Tensor('float32', batch.subarray(3 * 224 * 224 * 2), [1, 3, 224, 224]) }))
    .output;
  assert.deepEqual(one!.dims, [1, 490]);
  const y1 = one!.data as Float32Array;
  expect(y1, 'batch item 2').toBeCloseToNested(y3.subarray(2 * 490, 3 * 490), { abs: 1e-4 });
  // Different images must give different outputs, or the trunk is dead.
  expect(y3.subarray(0, 490)).not.toBeCloseToNested(y3.subarray(490, 2 * 490), { abs: 1e-3 });
});

test('the head adapts its depthwise kernel to the input size, and the diagonal bias lands on b11 and b22', async () => {
  const session = await ort.InferenceSession.create(
    buildResNetHuber({ blocks: 'resnet18', keypoints: 3, inputSize: 96, diagonalBias: -20, seed: 1 }),
  );
  const [input] = session.inputMetadata;
  assert.ok(input!.isTensor);
  assert.deepEqual(input!.shape, ['N', 3, 96, 96]);
  const y = (await session.run({ input: new ort.Tensor('float32', imageLike(1, 96, 2), [1, 3, 96, 96]) })).output!
    .data as Float32Array;
  assert.equal(y.length, 15);
  for (let k = 0; k < 3; k++) {
    for (const slot of [0, 1, 3]) assert.ok(Math.abs(y[5 * k + slot]!) < 5, `keypoint ${k} slot ${slot}: ${y[5 * k + slot]}`);
    for (const slot of [2, 4]) assert.ok(Math.abs(y[5 * k + slot]! + 20) < 5, `keypoint ${k} slot ${slot}: ${y[5 * k + slot]}`);
  }
  assert.throws(() => buildResNetHuber({ blocks: 'resnet18', keypoints: 3, inputSize: 100 }), /multiple of 32/);
});
