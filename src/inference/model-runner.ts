import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { BatchRunner } from './dynamic-batcher.js';
import type { DescribeResult, InferenceWorkerData, RunResult } from './worker-protocol.js';

const workerFile = fileURLToPath(new URL('./inference-worker.js', import.meta.url));

/**
 * One model's ONNX Runtime sessions, one per worker thread, so `session.run` never blocks the event
 * loop. Buffers cross to the workers and back by transfer, not copy.
 */
export class ModelRunner implements BatchRunner {
  private constructor(
    private readonly pool: Piscina,
    readonly concurrency: number,
    readonly description: DescribeResult,
    private readonly itemShape: [number, number, number],
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly onInference: (seconds: number, batch: number) => void,
  ) {}

  static async open(options: {
    worker: InferenceWorkerData;
    workers: number;
    inputName: string;
    outputName: string;
    inputSize: number;
    onInference?: (seconds: number, batch: number) => void;
  }): Promise<ModelRunner> {
    const pool = new Piscina({
      filename: workerFile,
      workerData: options.worker,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
    });
    try {
      const description = (await pool.run({ kind: 'describe' })) as DescribeResult;
      return new ModelRunner(
        pool,
        options.workers,
        description,
        [3, options.inputSize, options.inputSize],
        options.inputName,
        options.outputName,
        options.onInference ?? (() => undefined),
      );
    } catch (error) {
      await pool.destroy();
      throw error;
    }
  }

  async run(input: Float32Array, batch: number): Promise<{ output: Float32Array; input: Float32Array }> {
    const result = (await this.pool.run(
      { kind: 'run', input, batch, itemShape: this.itemShape, inputName: this.inputName, outputName: this.outputName },
      { transferList: [input.buffer as ArrayBuffer] },
    )) as RunResult;
    this.onInference(result.inferenceSeconds, batch);
    return result;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false });
  }
}
