import { workerEntry } from './worker-file.js';
import { WorkerPool } from './worker-pool.js';
import type { BatchRunner } from './dynamic-batcher.js';
import type { DescribeResult, InferenceWorkerData, RunResult } from './worker-protocol.js';

const inferenceWorker = workerEntry('./inference-worker.js', import.meta.url);

/**
 * One model's ONNX Runtime sessions, one per worker thread, so `session.run` never blocks the event
 * loop. Buffers cross to the workers and back by transfer, not copy.
 */
export class ModelRunner implements BatchRunner {
  private constructor(
    private readonly pool: WorkerPool,
    readonly concurrency: number,
    readonly description: DescribeResult,
    private readonly itemShape: [number, number, number],
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly onInference: (seconds: number, batch: number) => void,
    private readonly timeoutMs: number | undefined,
  ) {}

  static async open(options: {
    worker: InferenceWorkerData;
    workers: number;
    inputName: string;
    outputName: string;
    inputSize: number;
    /** A batch running longer fails at once and its worker is replaced (see WorkerPool). */
    timeoutMs?: number;
    onInference?: (seconds: number, batch: number) => void;
    onReplace?: (reason: 'crash' | 'timeout', detail: string) => void;
  }): Promise<ModelRunner> {
    const pool = new WorkerPool({
      filename: inferenceWorker.filename,
      argv: inferenceWorker.argv,
      workerData: options.worker,
      size: options.workers,
      onReplace: options.onReplace,
    });
    try {
      const description = await pool.run<DescribeResult>({ kind: 'describe' });
      await pool.whenStarted();
      return new ModelRunner(
        pool,
        options.workers,
        description,
        [3, options.inputSize, options.inputSize],
        options.inputName,
        options.outputName,
        options.onInference ?? (() => undefined),
        options.timeoutMs,
      );
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  async run(input: Float32Array, batch: number): Promise<{ output: Float32Array; input: Float32Array }> {
    const result = await this.pool.run<RunResult>(
      { kind: 'run', input, batch, itemShape: this.itemShape, inputName: this.inputName, outputName: this.outputName },
      { transferList: [input.buffer as ArrayBuffer], timeoutMs: this.timeoutMs },
    );
    this.onInference(result.inferenceSeconds, batch);
    return result;
  }

  /** The worker threads, for operators' diagnostics and fault-injection tests. */
  get threads() {
    return this.pool.threads;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
