import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'vitest';
import { fusionThreads, loadConfig, PER_CORE_WEIGHTS_BUDGET_BYTES, sessionLayout } from '../src/config.js';

const cores = os.availableParallelism();

test('sessions per model by default: one per core for a model whose copies fit the budget, else one using every core', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.WORKERS_PER_MODEL, 'auto');
  const small = Math.floor(PER_CORE_WEIGHTS_BUDGET_BYTES / cores);
  assert.deepEqual(sessionLayout(defaults, ['cpu'], small), { workers: cores, intraOpThreads: 1 });
  const large = small + 1;
  assert.deepEqual(
    sessionLayout(defaults, ['cpu'], large),
    cores === 1 ? { workers: 1, intraOpThreads: 1 } : { workers: 1, intraOpThreads: cores },
  );
  // A GPU first: one session, since each would hold its own copy of the weights on the GPU.
  assert.deepEqual(sessionLayout(defaults, ['cuda', 'cpu'], small).workers, 1);
});

test('with 0, one single-threaded session per core on a CPU whatever the model size', () => {
  const perCore = loadConfig({ WORKERS_PER_MODEL: '0' });
  assert.deepEqual(sessionLayout(perCore, ['cpu'], 10 * PER_CORE_WEIGHTS_BUDGET_BYTES), { workers: cores, intraOpThreads: 1 });
  assert.equal(sessionLayout(perCore, ['cuda', 'cpu'], 1).workers, 1);
});

test('explicit sessions and threads are kept as given; WORKERS_PER_MODEL names what it takes when wrong', () => {
  const pinned = loadConfig({ WORKERS_PER_MODEL: '3', INTRA_OP_THREADS: '2' });
  assert.deepEqual(sessionLayout(pinned, ['cpu'], 1), { workers: 3, intraOpThreads: 2 });
  assert.deepEqual(sessionLayout(pinned, ['cuda'], 1), { workers: 3, intraOpThreads: 2 });
  // Sessions without threads given split the cores, never below one thread.
  const split = loadConfig({ WORKERS_PER_MODEL: String(4 * cores) });
  assert.equal(sessionLayout(split, ['cpu'], 1).intraOpThreads, 1);
  assert.throws(() => loadConfig({ WORKERS_PER_MODEL: 'many' }), /WORKERS_PER_MODEL="many"/);
});

test('FUSION_THREADS: one thread per core by default, a count as given, and a refusal naming the variable', () => {
  assert.equal(fusionThreads(loadConfig({})), cores);
  assert.equal(fusionThreads(loadConfig({ FUSION_THREADS: '3' })), 3);
  assert.throws(() => loadConfig({ FUSION_THREADS: '0' }), /FUSION_THREADS="0"/);
  assert.throws(() => loadConfig({ FUSION_THREADS: 'all' }), /FUSION_THREADS="all"/);
});
