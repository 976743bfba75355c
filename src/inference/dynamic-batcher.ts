/**
 * Gathers crops from concurrent requests into batches: a batch leaves when it is full, when the
 * oldest crop has waited `maxWaitMs`, or at once when a runner frees up and crops are waiting
 * (those crops have already waited a whole batch time); fewer crops than a full batch, due while
 * several runners idle, are split evenly among them. Results are scattered back per submission.
 */

export interface BatchRunner {
  /** Runs `batch` items laid out one after another in `input`; resolves with `batch × outputSize` numbers. */
  run(input: Float32Array, batch: number): Promise<{ output: Float32Array; input: Float32Array }>;
  /** How many batches may run at once (one per worker). */
  readonly concurrency: number;
}

export interface BatcherOptions {
  itemSize: number;
  outputSize: number;
  maxBatchSize: number;
  maxWaitMs: number;
}

export interface BatchEvent {
  size: number;
  /** Seconds each item of the batch spent queued, in batch order. */
  queuedSeconds: number[];
  submissions: number;
}

/** A submission whose deadline passed while it waited; its crops were never run. */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

interface Submission {
  items: Float32Array;
  deadline: number;
  /** Fires at the deadline, so a submission stuck behind a long batch is answered then, not at dispatch. */
  deadlineTimer: NodeJS.Timeout | null;
  count: number;
  remaining: number;
  /** Crops handed to a batch so far. */
  dispatched: number;
  output: Float32Array;
  enqueuedAt: number;
  resolve: (output: Float32Array) => void;
  reject: (error: Error) => void;
  failed: boolean;
}

interface QueuedItem {
  submission: Submission;
  index: number;
}

export class DynamicBatcher {
  private readonly queue: QueuedItem[] = [];
  private queueHead = 0;
  private running = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly freeBuffers: Float32Array[] = [];
  private readonly listeners: Array<(event: BatchEvent) => void> = [];

  constructor(
    private readonly runner: BatchRunner,
    private readonly options: BatcherOptions,
  ) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError(`maxBatchSize must be ≥ 1, got ${options.maxBatchSize}`);
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be ≥ 0, got ${options.maxWaitMs}`);
  }

  /** Crops waiting for a batch. */
  get depth(): number {
    return this.queue.length - this.queueHead;
  }

  onBatch(listener: (event: BatchEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Queues `count` crops laid out in `items` and resolves with their `count × outputSize` outputs in
   * the same order. The caller must not touch `items` until the promise settles. If the
   * `performance.now()` time `deadline` passes before its crops are batched, it is rejected with
   * DeadlineExceededError and its crops are dropped.
   */
  submit(items: Float32Array, count: number, deadline = Number.POSITIVE_INFINITY): Promise<Float32Array> {
    const { itemSize, outputSize } = this.options;
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
    if (items.length < count * itemSize) {
      throw new RangeError(`items holds ${items.length} numbers, fewer than ${count} × ${itemSize}`);
    }
    return new Promise<Float32Array>((resolve, reject) => {
      const enqueuedAt = performance.now();
      const submission: Submission = {
        items,
        deadline,
        deadlineTimer: null,
        count,
        remaining: count,
        dispatched: 0,
        output: new Float32Array(count * outputSize),
        enqueuedAt,
        resolve: (output) => {
          if (submission.deadlineTimer) clearTimeout(submission.deadlineTimer);
          resolve(output);
        },
        reject: (error) => {
          if (submission.deadlineTimer) clearTimeout(submission.deadlineTimer);
          reject(error);
        },
        failed: false,
      };
      if (Number.isFinite(deadline)) {
        submission.deadlineTimer = setTimeout(
          () => {
            // Crops already running are let finish; one still wholly queued is answered now and skipped later.
            if (submission.failed || submission.dispatched > 0) return;
            submission.failed = true;
            submission.reject(
              new DeadlineExceededError(
                `deadline passed after ${((performance.now() - enqueuedAt) / 1000).toFixed(3)} s in the queue`,
              ),
            );
          },
          Math.max(0, deadline - enqueuedAt),
        );
      }
      for (let index = 0; index < count; index++) this.queue.push({ submission, index });
      this.schedule();
    });
  }

  private schedule(): void {
    while (this.running < this.runner.concurrency && this.depth > 0) {
      if (this.depth >= this.options.maxBatchSize || this.options.maxWaitMs === 0) {
        this.dispatch();
        continue;
      }
      const oldest = this.queue[this.queueHead]!.submission.enqueuedAt;
      const waited = performance.now() - oldest;
      if (waited >= this.options.maxWaitMs) {
        this.dispatch();
        continue;
      }
      if (this.timer === null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.schedule();
        }, this.options.maxWaitMs - waited);
      }
      return;
    }
  }

  private takeBuffer(size: number): Float32Array {
    const buffer = this.freeBuffers.pop();
    return buffer && buffer.length >= size ? buffer : new Float32Array(this.options.maxBatchSize * this.options.itemSize);
  }

  private dispatch(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const { itemSize, outputSize } = this.options;
    // Fewer crops than a full batch, due while several runners idle, are shared among them: one
    // request's two crops then run side by side on two single-threaded sessions, not one after the other.
    const idle = this.runner.concurrency - this.running;
    const maxBatchSize =
      this.depth >= this.options.maxBatchSize ? this.options.maxBatchSize : Math.ceil(this.depth / Math.max(1, idle));
    const now = performance.now();
    const batch: QueuedItem[] = [];
    while (batch.length < maxBatchSize && this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead++]!;
      const { submission } = item;
      // Crops of a submission that has already failed or expired would be wasted work.
      if (submission.failed) continue;
      if (now > submission.deadline) {
        submission.failed = true;
        submission.reject(
          new DeadlineExceededError(`deadline passed after ${((now - submission.enqueuedAt) / 1000).toFixed(3)} s in the queue`),
        );
        continue;
      }
      submission.dispatched++;
      batch.push(item);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    const size = batch.length;
    if (size === 0) return;
    const input = this.takeBuffer(size * itemSize);
    const queuedSeconds: number[] = [];
    for (let slot = 0; slot < size; slot++) {
      const { submission, index } = batch[slot]!;
      input.set(submission.items.subarray(index * itemSize, (index + 1) * itemSize), slot * itemSize);
      queuedSeconds.push((now - submission.enqueuedAt) / 1000);
    }
    const event: BatchEvent = { size, queuedSeconds, submissions: new Set(batch.map((item) => item.submission)).size };
    for (const listener of this.listeners) listener(event);
    this.running++;
    this.runner.run(input, size).then(
      ({ output, input: returned }) => {
        this.freeBuffers.push(returned);
        this.restart();
        for (let slot = 0; slot < size; slot++) {
          const { submission, index } = batch[slot]!;
          if (submission.failed) continue;
          submission.output.set(output.subarray(slot * outputSize, (slot + 1) * outputSize), index * outputSize);
          if (--submission.remaining === 0) submission.resolve(submission.output);
        }
      },
      (error: unknown) => {
        this.restart();
        for (const { submission } of batch) {
          if (submission.failed) continue;
          submission.failed = true;
          submission.reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
    );
  }

  /**
   * The worker that just answered gets its next batch before the answered requests are resumed:
   * their post-processing and responses run on this thread while the worker already computes,
   * instead of keeping it idle meanwhile.
   */
  private restart(): void {
    this.running--;
    this.schedule();
  }
}
