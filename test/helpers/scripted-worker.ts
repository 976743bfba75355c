import { parentPort } from 'node:worker_threads';

/**
 * A real worker thread for WorkerPool tests that does what each message says: answer, fail,
 * exit, or spin forever in JavaScript.
 */
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (message: { kind: 'echo' | 'fail' | 'exit' | 'spin'; value?: unknown; delayMs?: number }) => {
  switch (message.kind) {
    case 'echo':
      setTimeout(() => parentPort!.postMessage({ ok: true, value: message.value }), message.delayMs ?? 0);
      break;
    case 'fail':
      parentPort!.postMessage({ ok: false, error: { name: 'RangeError', message: `refused ${String(message.value)}` } });
      break;
    case 'exit':
      process.exit(3);
      break;
    case 'spin':
      for (;;);
  }
});
