import { Worker, type TransferListItem } from 'node:worker_threads';

/**
 * A fixed set of worker threads that run one job each at a time.
 *
 * Written here rather than taken from a pool library because of one measured fact: terminating a
 * worker thread while onnxruntime-node is inside a native `run` aborts the whole process when the
 * run returns (a Napi::Error escapes). So a job that overruns its time limit is failed at once and
 * its worker is replaced at once, but the abandoned thread is only terminated when its late answer
 * arrives (it is back in JavaScript then) or when the pool closes.
 */

export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
}

export class WorkerTimeoutError extends Error {
  override name = 'WorkerTimeoutError';
}

export class PoolClosedError extends Error {
  override name = 'PoolClosedError';
}

/**
 * What a worker posts: `ready` once after its start-up work (jobs are only sent to ready workers,
 * so a job's time limit never counts a model load), then one reply per job.
 */
export type WorkerReply =
  { ready: true } | { ok: true; value: unknown } | { ok: false; error: { name: string; message: string } };

interface Job {
  message: unknown;
  transferList: readonly TransferListItem[];
  timeoutMs: number | undefined;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
  lastError: Error | null;
}

export interface WorkerPoolOptions {
  filename: string | URL;
  /** Extra `process.argv` for each thread (see worker-file.ts). */
  argv?: string[];
  workerData: unknown;
  size: number;
  /** Told about every worker that had to be replaced, for logs and metrics. */
  onReplace?: ((reason: 'crash' | 'timeout', detail: string) => void) | undefined;
  /**
   * How long close() waits for set-aside workers to come back before stopping them anyway (a
   * thread spinning in JavaScript never comes back; one inside a native run does).
   */
  abandonedGraceMs?: number;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly abandoned = new Map<Worker, Promise<void>>();
  private closing = false;
  /** Set when a worker died before it was ready; once no worker is left, every job fails with it. */
  private startupFailure: WorkerCrashedError | null = null;
  private idleWaiters: Array<() => void> = [];
  private readyWaiters: Array<() => void> = [];
  /** Workers still to start; the next starts when the last one started is ready. */
  private unspawned: number;

  constructor(private readonly options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new RangeError(`pool size must be a positive integer, got ${options.size}`);
    // One at a time: each worker loads its own copy of the model, and ONNX Runtime's transient
    // memory while loading (parsing, optimizing and pre-packing the weights) need not add up.
    this.unspawned = options.size - 1;
    this.slots.push(this.spawn());
  }

  /** The live worker threads (replacements included, abandoned ones not). */
  get threads(): readonly Worker[] {
    return this.slots.map((slot) => slot.worker);
  }

  /**
   * Resolves once every worker has finished its start-up work or died trying. A thread stopped
   * during that work can be inside a native call (ONNX Runtime loading a model), which aborts the
   * process like a stop during a run; so close() waits for this, and a model counts as loaded only
   * once all its sessions are.
   */
  whenStarted(): Promise<void> {
    if (this.started) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private get started(): boolean {
    return this.unspawned === 0 && this.slots.every((slot) => slot.ready);
  }

  private wakeReadyWaiters(): void {
    if (!this.started) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Jobs running or waiting. */
  get pending(): number {
    return this.queue.length + this.slots.filter((slot) => slot.job !== null).length;
  }

  run<T>(
    message: unknown,
    options: { transferList?: readonly TransferListItem[]; timeoutMs?: number | undefined } = {},
  ): Promise<T> {
    if (this.closing) return Promise.reject(new PoolClosedError('the worker pool is shutting down'));
    if (this.slots.length === 0 && this.startupFailure) return Promise.reject(this.startupFailure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        message,
        transferList: options.transferList ?? [],
        timeoutMs: options.timeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.filename, {
      workerData: this.options.workerData,
      argv: this.options.argv ?? [],
    });
    const slot: Slot = { worker, ready: false, job: null, timer: null, lastError: null };
    worker.on('message', (reply: WorkerReply) => this.settle(slot, worker, reply));
    worker.on('error', (error) => {
      slot.lastError = error;
    });
    worker.on('exit', (code) => this.exited(slot, worker, code));
    return slot;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.job !== null) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.postMessage(job.message, job.transferList as TransferListItem[]);
      if (job.timeoutMs !== undefined) slot.timer = setTimeout(() => this.overran(slot), job.timeoutMs);
    }
  }

  private finish(slot: Slot): Job | null {
    const job = slot.job;
    slot.job = null;
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
    return job;
  }

  private settle(slot: Slot, worker: Worker, reply: WorkerReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      if (this.unspawned > 0 && !this.closing) {
        this.unspawned--;
        this.slots.push(this.spawn());
      }
      this.pump();
      this.wakeReadyWaiters();
      return;
    }
    if (this.abandoned.has(worker)) {
      // Back in JavaScript after its late run: now it can be stopped safely.
      void worker.terminate();
      return;
    }
    const job = this.finish(slot);
    if (job) {
      if (reply.ok) job.resolve(reply.value);
      else job.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    }
    this.afterChange();
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0 && !this.closing) this.slots[index] = this.spawn();
  }

  private overran(slot: Slot): void {
    const job = this.finish(slot);
    const worker = slot.worker;
    this.abandoned.set(worker, new Promise<void>((resolve) => worker.once('exit', () => resolve())));
    this.replace(slot);
    const detail = `a job ran past its ${job?.timeoutMs} ms limit`;
    this.options.onReplace?.('timeout', detail);
    job?.reject(new WorkerTimeoutError(detail));
    this.afterChange();
  }

  private exited(slot: Slot, worker: Worker, code: number): void {
    if (this.abandoned.delete(worker)) return;
    if (!this.slots.includes(slot)) return;
    const job = this.finish(slot);
    const detail = `worker exited with code ${code}${slot.lastError ? `: ${slot.lastError.message}` : ''}`;
    if (!slot.ready && !this.closing) {
      // Dying before it was ready is not bad luck but a broken set-up (a module or library that will
      // not load); respawning would loop forever, so the slot is dropped instead.
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.unspawned = 0;
      this.startupFailure = new WorkerCrashedError(`worker failed to start: ${detail}`);
      if (this.slots.length === 0) {
        for (const queued of this.queue.splice(0)) queued.reject(this.startupFailure);
      }
      this.afterChange();
      return;
    }
    if (!this.closing) {
      this.replace(slot);
      this.options.onReplace?.('crash', detail);
    }
    job?.reject(new WorkerCrashedError(detail));
    this.afterChange();
  }

  private afterChange(): void {
    this.wakeReadyWaiters();
    this.pump();
    if (this.pending === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Lets running and queued jobs finish, then stops every thread. */
  async close(): Promise<void> {
    this.unspawned = 0;
    await this.whenStarted();
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.closing = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
    if (this.abandoned.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.abandonedGraceMs ?? 60_000);
      });
      await Promise.race([Promise.all(this.abandoned.values()), grace]);
      clearTimeout(timer);
      await Promise.all([...this.abandoned.keys()].map((worker) => worker.terminate()));
      this.abandoned.clear();
    }
  }
}
