import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DynamicBatcher, type BatchEvent } from '../../src/inference/dynamic-batcher.js';
import { ModelRunner } from '../../src/inference/model-runner.js';
import { buildResNet18TinyModel } from '../helpers/fixture-models.js';
import { createRng } from '../helpers/prng.js';

const inputSize = 64;
const itemSize = 3 * inputSize * inputSize;
const outputSize = 5 * 98;

let directory: string;
let modelPath: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'huber-layouts-'));
  modelPath = path.join(directory, 'resnet18.onnx');
  await writeFile(modelPath, buildResNet18TinyModel(inputSize));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function open(workers: number, intraOpThreads: number): Promise<ModelRunner> {
  return ModelRunner.open({
    worker: { modelPath, executionProviders: ['cpu'], intraOpThreads, interOpThreads: 1, graphOptimization: 'all', nice: 0 },
    workers,
    inputName: 'input',
    outputName: 'output',
    inputSize,
  });
}

/** Twelve requests of two crops each, submitted at once as concurrent requests are. */
async function answers(runner: ModelRunner, crops: Float32Array[]) {
  const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 8, maxWaitMs: 2 });
  const events: BatchEvent[] = [];
  batcher.onBatch((event) => events.push(event));
  const outputs = await Promise.all(crops.map((pair) => batcher.submit(pair, 2)));
  return { outputs, events };
}

test('two single-threaded sessions answer every crop as one two-threaded session does, sharing the batches', async () => {
  const rng = createRng(13);
  const crops = Array.from({ length: 12 }, () => Float32Array.from({ length: 2 * itemSize }, () => 2 * rng.normal()));
  const shared = await open(1, 2);
  const separate = await open(2, 1);
  try {
    assert.equal(separate.concurrency, 2);
    const one = await answers(shared, crops);
    const two = await answers(separate, crops);
    // Every batch ran, crops were shared among both sessions' batches, and none was lost.
    assert.equal(
      two.events.reduce((sum, event) => sum + event.size, 0),
      24,
    );
    assert.ok(two.events.length >= 3, `batches ${two.events.map((event) => event.size)}`);
    for (const [index, output] of two.outputs.entries()) {
      assert.equal(output.length, 2 * outputSize);
      // Threads split an operator's work, never its sums' order beyond float rounding.
      expect(output, `request ${index}`).toBeCloseToNested(one.outputs[index]!, { rel: 1e-4, abs: 1e-4 });
    }
    // The outputs depend on the crop: distinct requests do not collapse to one answer.
    assert.notDeepEqual(two.outputs[0], two.outputs[1]);
  } finally {
    await shared.close();
    await separate.close();
  }
});

test("a lone request's two crops run side by side on two idle sessions", async () => {
  const separate = await open(2, 1);
  try {
    const rng = createRng(14);
    const pair = Float32Array.from({ length: 2 * itemSize }, () => rng.normal());
    const { outputs, events } = await answers(separate, [pair]);
    assert.deepEqual(
      events.map((event) => event.size),
      [1, 1],
    );
    assert.equal(outputs[0]!.length, 2 * outputSize);
  } finally {
    await separate.close();
  }
});
