import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'vitest';
import { startService } from '../helpers/service.js';

/** Nice values of this process's threads, by thread id (Linux /proc). */
function threadNiceValues(): Map<number, number> {
  const values = new Map<number, number>();
  for (const task of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
    // Fields after the command name; nice is field 19 of stat, the 17th after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    values.set(Number(task), Number(fields[16]));
  }
  return values;
}

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
