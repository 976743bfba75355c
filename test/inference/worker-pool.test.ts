import assert from 'node:assert/strict';
import { test } from 'vitest';
import { PoolClosedError, WorkerCrashedError, WorkerPool, WorkerTimeoutError } from '../../src/inference/worker-pool.js';

import { workerEntry } from '../../src/inference/worker-file.js';

const scriptedEntry = workerEntry('../helpers/scripted-worker.js', import.meta.url);
const brokenEntry = workerEntry('../helpers/broken-worker.js', import.meta.url);
const scripted = scriptedEntry.filename;
const broken = brokenEntry.filename;
const scriptedArgv = scriptedEntry.argv;
const brokenArgv = brokenEntry.argv;

test('jobs run on the workers and answer in order of submission per job', async () => {
  const pool = new WorkerPool({ filename: scripted, workerData: null, argv: scriptedArgv, size: 2 });
  try {
    const answers = await Promise.all([1, 2, 3, 4, 5].map((value) => pool.run({ kind: 'echo', value, delayMs: 5 })));
    assert.deepEqual(answers, [1, 2, 3, 4, 5]);
    await assert.rejects(pool.run({ kind: 'fail', value: 7 }), { name: 'RangeError', message: 'refused 7' });
  } finally {
    await pool.close();
  }
});

test('a worker that dies fails the job it held, is replaced, and queued jobs still run', async () => {
  const replaced: string[] = [];
  const pool = new WorkerPool({
    filename: scripted,
    workerData: null,
    argv: scriptedArgv,
    size: 1,
    onReplace: (reason) => replaced.push(reason),
  });
  try {
    const first = pool.threads[0];
    const dying = pool.run({ kind: 'exit' });
    const queued = pool.run({ kind: 'echo', value: 'after' });
    await assert.rejects(
      dying,
      (error: Error) => error instanceof WorkerCrashedError && /exited with code 3/.test(error.message),
    );
    assert.equal(await queued, 'after');
    assert.notEqual(pool.threads[0], first);
    assert.deepEqual(replaced, ['crash']);
  } finally {
    await pool.close();
  }
});

test('a job that hangs fails at its time limit, its worker is set aside and a fresh one serves', async () => {
  const replaced: string[] = [];
  const pool = new WorkerPool({
    filename: scripted,
    workerData: null,
    argv: scriptedArgv,
    size: 1,
    onReplace: (reason) => replaced.push(reason),
    abandonedGraceMs: 100,
  });
  try {
    const hung = pool.threads[0];
    await assert.rejects(pool.run({ kind: 'spin' }, { timeoutMs: 100 }), WorkerTimeoutError);
    assert.notEqual(pool.threads[0], hung);
    assert.equal(await pool.run({ kind: 'echo', value: 'fresh' }, { timeoutMs: 5000 }), 'fresh');
    assert.deepEqual(replaced, ['timeout']);
  } finally {
    // close() also stops the thread that is still spinning, once the grace period is over.
    await pool.close();
  }
});

test('close waits for running jobs, then refuses new ones', async () => {
  const pool = new WorkerPool({ filename: scripted, workerData: null, argv: scriptedArgv, size: 1 });
  const running = pool.run({ kind: 'echo', value: 'finished', delayMs: 50 });
  const closed = pool.close();
  assert.equal(await running, 'finished');
  await closed;
  await assert.rejects(pool.run({ kind: 'echo', value: 1 }), PoolClosedError);
});

test('workers that die before they are ready are not respawned: queued and later jobs fail with the reason', async () => {
  const replaced: string[] = [];
  const pool = new WorkerPool({
    filename: broken,
    workerData: null,
    argv: brokenArgv,
    size: 2,
    onReplace: (reason) => replaced.push(reason),
  });
  try {
    await assert.rejects(
      pool.run({ kind: 'describe' }),
      (error: Error) =>
        error instanceof WorkerCrashedError && /failed to start: .*cannot load the inference library/.test(error.message),
    );
    await assert.rejects(pool.run({ kind: 'describe' }), WorkerCrashedError);
    assert.equal(pool.threads.length, 0);
    assert.deepEqual(replaced, [], 'no respawn loop');
  } finally {
    await pool.close();
  }
});

test('workers start one after another; whenStarted resolves once all are ready, and close waits for it', async () => {
  const pool = new WorkerPool({ filename: scripted, workerData: null, argv: scriptedArgv, size: 3 });
  try {
    assert.equal(pool.threads.length, 1, 'the second starts only once the first is ready');
    await pool.whenStarted();
    assert.equal(pool.threads.length, 3);
    assert.deepEqual(await Promise.all([1, 2, 3].map((value) => pool.run({ kind: 'echo', value, delayMs: 20 }))), [1, 2, 3]);
  } finally {
    await pool.close();
  }
  // Closed while the first worker is still starting: the rest never start, and nothing aborts.
  const early = new WorkerPool({ filename: scripted, workerData: null, argv: scriptedArgv, size: 3 });
  await early.close();
  assert.equal(early.threads.length, 1);
});
