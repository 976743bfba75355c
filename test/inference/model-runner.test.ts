import assert from 'node:assert/strict';
import { test } from 'vitest';
import { startService } from '../helpers/service.js';
import { threadNiceValues } from '../helpers/thread-nice.js';

test(
  'inference threads run at INFERENCE_NICE while the event loop keeps normal priority',
  { skip: process.platform !== 'linux' },
  async () => {
    const before = new Set(threadNiceValues().keys());
    const service = await startService({ models: ['resnet18-huber-tiny'], env: { INFERENCE_NICE: '7', INTRA_OP_THREADS: '2' } });
    try {
      const after = threadNiceValues();
      const lowered = [...after].filter(([thread, nice]) => !before.has(thread) && nice === 7);
      // The worker thread itself plus the intra-op thread ONNX Runtime started from it.
      assert.ok(lowered.length >= 2, `threads at nice 7: ${lowered.length} of ${after.size}`);
      assert.equal(after.get(process.pid), 0, 'the main thread is untouched');
    } finally {
      await service.close();
    }
  },
);
