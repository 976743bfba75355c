import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DynamicBatcher, type BatchEvent, type BatchRunner } from '../../src/inference/dynamic-batcher.js';
import { ModelRunner } from '../../src/inference/model-runner.js';
import { buildDotsModel, DOTS_INPUT_SIZE } from '../helpers/fixture-models.js';

const itemSize = 2;
const outputSize = 1;

/** One item whose first number names it; the runner below answers each item with that name × 10. */
function item(id: number): Float32Array {
  return Float32Array.of(id, 0);
}

/**
 * The unit under test is the batcher, so its runner is a hand-made BatchRunner that computes the
 * outputs, records each batch's items and holds every run until the test releases it.
 */
class GatedRunner implements BatchRunner {
  readonly batches: number[][] = [];
  private readonly gates: Array<() => void> = [];
  private failures = new Set<number>();

  constructor(readonly concurrency = 1) {}

  /** Makes the `call`-th run (0-based) reject. */
  failCall(call: number): void {
    this.failures.add(call);
  }

  get waiting(): number {
    return this.gates.length;
  }

  release(): void {
    this.gates.shift()?.();
  }

  async run(input: Float32Array, batch: number): Promise<{ output: Float32Array; input: Float32Array }> {
    const call = this.batches.length;
    this.batches.push(Array.from({ length: batch }, (_, slot) => input[slot * itemSize]!));
    await new Promise<void>((resolve) => this.gates.push(resolve));
    if (this.failures.has(call)) throw new Error(`run ${call} failed`);
    const output = Float32Array.from({ length: batch }, (_, slot) => input[slot * itemSize]! * 10);
    return { output, input };
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('DynamicBatcher with a hand-made runner', () => {
  test('a queued submission is rejected at its deadline even while a long batch still runs, and never dispatched', async () => {
    const runner = new GatedRunner(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 1, maxWaitMs: 0 });
    const first = batcher.submit(item(1), 1);
    await until(() => runner.waiting === 1);
    const late = batcher.submit(item(2), 1, performance.now() + 20);
    await assert.rejects(late, (error: Error) => error.name === 'DeadlineExceededError');
    assert.equal(runner.waiting, 1, 'answered while the first batch was still running');
    runner.release();
    assert.deepEqual(await first, Float32Array.of(10));
    const third = batcher.submit(item(3), 1);
    await until(() => runner.waiting === 1);
    runner.release();
    assert.deepEqual(await third, Float32Array.of(30));
    assert.deepEqual(runner.batches, [[1], [3]], 'the expired item never reached the runner');
  });

  test('dispatches in FIFO order, never more than maxBatchSize items, and scatters results back', async () => {
    const runner = new GatedRunner(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 4, maxWaitMs: 1 });
    // While the first batch runs, thirteen more items (in submissions of 1, 2 and 3) pile up.
    const first = batcher.submit(item(0), 1);
    await until(() => runner.waiting === 1);
    const sizes = [1, 2, 3, 1, 3, 2, 1];
    let next = 1;
    const submissions = sizes.map((count) => {
      const items = new Float32Array(count * itemSize);
      const ids: number[] = [];
      for (let i = 0; i < count; i++) {
        items[i * itemSize] = next;
        ids.push(next++);
      }
      return { ids, result: batcher.submit(items, count) };
    });
    assert.equal(batcher.depth, 13);
    while (runner.batches.length < 5 || runner.waiting > 0) {
      await until(() => runner.waiting > 0);
      runner.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await first, Float32Array.of(0));
    for (const { ids, result } of submissions)
      assert.deepEqual(
        await result,
        Float32Array.from(ids, (id) => id * 10),
      );
    assert.deepEqual(
      runner.batches.flat(),
      Array.from({ length: 14 }, (_, id) => id),
      'items leave in the order they came',
    );
    assert.ok(
      runner.batches.every((batch) => batch.length <= 4),
      `batch sizes ${runner.batches.map((b) => b.length)}`,
    );
    // The queued items go out in full batches as the runner frees: 13 = 4 + 4 + 4 + 1.
    assert.deepEqual(
      runner.batches.map((batch) => batch.length),
      [1, 4, 4, 4, 1],
    );
    assert.equal(batcher.depth, 0);
  });

  test('a lone submission is dispatched after the wait, without other traffic to fill its batch', async () => {
    const runner = new GatedRunner(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 8, maxWaitMs: 5 });
    const events: BatchEvent[] = [];
    batcher.onBatch((event) => events.push(event));
    const result = batcher.submit(item(7), 1);
    assert.equal(runner.batches.length, 0, 'a batch with room waits for batch-mates first');
    await until(() => runner.waiting === 1);
    runner.release();
    assert.deepEqual(await result, Float32Array.of(70));
    assert.deepEqual(runner.batches, [[7]]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.size, 1);
    assert.equal(events[0]!.submissions, 1);
  });

  test('a full batch leaves at once; with maxWaitMs 0 nothing waits for batch-mates', async () => {
    const runner = new GatedRunner(2);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 2, maxWaitMs: 60_000 });
    const full = batcher.submit(Float32Array.of(1, 0, 2, 0), 2);
    assert.deepEqual(runner.batches, [[1, 2]], 'dispatched synchronously, not after the 60 s wait');
    runner.release();
    assert.deepEqual(await full, Float32Array.of(10, 20));

    const eager = new GatedRunner(1);
    const noWait = new DynamicBatcher(eager, { itemSize, outputSize, maxBatchSize: 8, maxWaitMs: 0 });
    const lone = noWait.submit(item(3), 1);
    assert.deepEqual(eager.batches, [[3]]);
    eager.release();
    assert.deepEqual(await lone, Float32Array.of(30));
  });

  test('crops queued behind a running batch go out together as soon as the runner frees', async () => {
    const runner = new GatedRunner(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 8, maxWaitMs: 1 });
    const events: BatchEvent[] = [];
    batcher.onBatch((event) => events.push(event));
    const first = batcher.submit(item(1), 1);
    await until(() => runner.waiting === 1);
    const queued = [2, 3, 4].map((id) => batcher.submit(item(id), 1));
    // Longer than maxWaitMs: the queued crops are due, but the only runner is busy.
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(runner.batches.length, 1, 'no second batch while the runner is busy');
    runner.release();
    await first;
    await until(() => runner.waiting === 1);
    assert.deepEqual(runner.batches[1], [2, 3, 4], 'every waiting crop joins the next batch');
    assert.equal(events[1]!.submissions, 3);
    runner.release();
    assert.deepEqual(await Promise.all(queued), [Float32Array.of(20), Float32Array.of(30), Float32Array.of(40)]);
  });

  test('the next batch is already running when the answered submissions resume', async () => {
    const runner = new GatedRunner(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 1, maxWaitMs: 0 });
    // What each answered request sees at the moment it resumes: how many batches the runner has had.
    const batchesSeen: number[] = [];
    const answered = [1, 2, 3].map((id) =>
      batcher.submit(item(id), 1).then((output) => {
        batchesSeen.push(runner.batches.length);
        return output;
      }),
    );
    for (let released = 0; released < 3; released++) {
      await until(() => runner.waiting === 1);
      runner.release();
    }
    assert.deepEqual(await Promise.all(answered), [Float32Array.of(10), Float32Array.of(20), Float32Array.of(30)]);
    assert.deepEqual(batchesSeen, [2, 3, 3], 'each queued batch left before the previous answer resumed its request');
  });

  test('crops due while several runners idle are split evenly among them; one busy runner takes a whole batch', async () => {
    const runner = new GatedRunner(2);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 8, maxWaitMs: 1 });
    const pair = new Float32Array(2 * itemSize);
    pair[0] = 1;
    pair[itemSize] = 2;
    const first = batcher.submit(pair, 2);
    await until(() => runner.waiting === 2);
    assert.deepEqual(runner.batches, [[1], [2]], "one request's two crops run side by side");
    // With both runners busy, five crops pile up; the first runner to free takes them all.
    const piled = [3, 4, 5, 6, 7].map((id) => batcher.submit(item(id), 1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    runner.release();
    await until(() => runner.batches.length === 3);
    assert.deepEqual(runner.batches[2], [3, 4, 5, 6, 7]);
    while (runner.waiting > 0) runner.release();
    assert.deepEqual(await first, Float32Array.of(10, 20));
    assert.deepEqual(
      await Promise.all(piled),
      [30, 40, 50, 60, 70].map((value) => Float32Array.of(value)),
    );
  });

  test('after a failed run the next batch is already running when the failed submissions are rejected', async () => {
    const runner = new GatedRunner(1);
    runner.failCall(0);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 1, maxWaitMs: 0 });
    let batchesAtRejection = 0;
    const failed = batcher.submit(item(1), 1).catch((error: Error) => {
      batchesAtRejection = runner.batches.length;
      return error;
    });
    const next = batcher.submit(item(2), 1);
    await until(() => runner.waiting === 1);
    runner.release();
    await until(() => runner.waiting === 1);
    runner.release();
    assert.equal(((await failed) as Error).message, 'run 0 failed');
    assert.deepEqual(await next, Float32Array.of(20));
    assert.equal(batchesAtRejection, 2);
  });

  test('a failed run rejects only the submissions in that batch, each once', async () => {
    const runner = new GatedRunner(1);
    runner.failCall(0);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 2, maxWaitMs: 60_000 });
    const a = batcher.submit(item(1), 1);
    const b = batcher.submit(item(2), 1);
    // c spans the failing batch's successor and the one after it; d shares the last batch with c.
    const c = batcher.submit(Float32Array.of(3, 0, 4, 0), 2);
    const d = batcher.submit(item(5), 1);
    const e = batcher.submit(item(6), 1);
    assert.deepEqual(runner.batches, [[1, 2]]);
    runner.release();
    await assert.rejects(a, /run 0 failed/);
    await assert.rejects(b, /run 0 failed/);
    await until(() => runner.waiting === 1);
    runner.release();
    await until(() => runner.waiting === 1);
    runner.release();
    assert.deepEqual(await c, Float32Array.of(30, 40));
    assert.deepEqual(await d, Float32Array.of(50));
    assert.deepEqual(await e, Float32Array.of(60));
    assert.deepEqual(runner.batches, [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  test('a submission split across batches is rejected once when one of its batches fails', async () => {
    const runner = new GatedRunner(2);
    runner.failCall(1);
    const batcher = new DynamicBatcher(runner, { itemSize, outputSize, maxBatchSize: 2, maxWaitMs: 60_000 });
    const split = batcher.submit(Float32Array.of(1, 0, 2, 0, 3, 0), 3);
    const mate = batcher.submit(item(4), 1);
    assert.deepEqual(runner.batches, [
      [1, 2],
      [3, 4],
    ]);
    runner.release();
    runner.release();
    await assert.rejects(split, /run 1 failed/);
    await assert.rejects(mate, /run 1 failed/);
    // The batcher keeps serving afterwards.
    const later = batcher.submit(Float32Array.of(8, 0, 9, 0), 2);
    runner.release();
    assert.deepEqual(await later, Float32Array.of(80, 90));
  });
});

/** A dots-model crop (values v/255, CHW) with one bright pixel in each half at the given columns. */
function dotsCrop(leftColumn: number, rightColumn: number, row: number): Float32Array {
  const size = DOTS_INPUT_SIZE;
  const crop = new Float32Array(3 * size * size);
  for (let channel = 0; channel < 3; channel++) {
    crop[channel * size * size + row * size + leftColumn] = 1;
    crop[channel * size * size + (size - 1 - row) * size + rightColumn] = 0.5;
  }
  return crop;
}

describe('DynamicBatcher over the real worker pool and the dots model', () => {
  let directory: string;
  let runner: ModelRunner;
  beforeAll(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'huber-batcher-'));
    const modelPath = path.join(directory, 'dots.onnx');
    await writeFile(modelPath, buildDotsModel());
    runner = await ModelRunner.open({
      worker: { modelPath, executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', nice: 0 },
      workers: 1,
      inputName: 'input',
      outputName: 'output',
      inputSize: DOTS_INPUT_SIZE,
    });
  });
  afterAll(async () => {
    await runner.close();
    await rm(directory, { recursive: true, force: true });
  });

  test("concurrent submissions form batches larger than one, and each gets its own crop's output", async () => {
    const size = DOTS_INPUT_SIZE;
    const cropSize = 3 * size * size;
    const batcher = new DynamicBatcher(runner, { itemSize: cropSize, outputSize: 10, maxBatchSize: 8, maxWaitMs: 20 });
    const events: BatchEvent[] = [];
    batcher.onBatch((event) => events.push(event));
    const crops = Array.from({ length: 20 }, (_, i) => dotsCrop(i % 30, 33 + ((i * 7) % 30), (i * 5) % size));
    const batched = await Promise.all(crops.map((crop) => batcher.submit(crop, 1)));
    assert.ok(
      events.some((event) => event.size > 1),
      `batch sizes ${events.map((event) => event.size)}`,
    );
    assert.ok(events.every((event) => event.size <= 8));
    assert.equal(
      events.reduce((sum, event) => sum + event.size, 0),
      20,
    );

    // The same crops one at a time, with no batch-mates.
    const alone = new DynamicBatcher(runner, { itemSize: cropSize, outputSize: 10, maxBatchSize: 1, maxWaitMs: 0 });
    for (const [i, crop] of crops.entries()) {
      const single = await alone.submit(crop, 1);
      expect(batched[i], `crop ${i}, batched against alone`).toBeCloseToNested(single, { abs: 1e-4 });
      // Closed form: the left keypoint's x is the lit column's centre.
      expect(single[0], `crop ${i}: left x`).toBeCloseToNested((i % 30) + 0.5, { abs: 1e-3 });
    }
  });
});
