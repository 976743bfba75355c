import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'vitest';
import { intraOpThreads, loadConfig, workersPerModel } from '../src/config.js';

test('sessions per model: one using every core by default; with 0, one single-threaded session per core on a CPU', () => {
  const cores = os.availableParallelism();
  const defaults = loadConfig({});
  assert.equal(workersPerModel(defaults, ['cpu']), 1);
  assert.equal(intraOpThreads(defaults, 1), cores);
  const perCore = loadConfig({ WORKERS_PER_MODEL: '0' });
  assert.equal(workersPerModel(perCore, ['cpu']), cores);
  assert.equal(intraOpThreads(perCore, workersPerModel(perCore, ['cpu'])), 1);
  // CUDA first: one session, since each would hold its own copy of the weights on the GPU.
  assert.equal(workersPerModel(perCore, ['cuda', 'cpu']), 1);
});

test('explicit sessions and threads are kept as given', () => {
  const pinned = loadConfig({ WORKERS_PER_MODEL: '3', INTRA_OP_THREADS: '2' });
  assert.equal(workersPerModel(pinned, ['cpu']), 3);
  assert.equal(workersPerModel(pinned, ['cuda']), 3);
  assert.equal(intraOpThreads(pinned, 3), 2);
  // Sessions without threads given split the cores, never below one thread.
  const split = loadConfig({ WORKERS_PER_MODEL: String(4 * os.availableParallelism()) });
  assert.equal(intraOpThreads(split, workersPerModel(split, ['cpu'])), 1);
});
