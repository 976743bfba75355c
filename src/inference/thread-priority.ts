import { readlinkSync } from 'node:fs';
import os from 'node:os';

/**
 * Inference and triangulation threads saturate every core; at equal priority the event loop waits its
 * turn behind them and request latency jitters. Threads inherit nice from the thread that creates them, so
 * lowering a worker's priority before ONNX Runtime starts its thread pool lowers all of them, and the
 * event loop (nice 0) runs as soon as it has work. Linux only: elsewhere, or without permission,
 * priorities stay as they are.
 */
export function lowerPriority(nice: number): string | null {
  if (nice === 0) return null;
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    os.setPriority(threadId, nice);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
