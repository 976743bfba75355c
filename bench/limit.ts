import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { ModelRunner } from '../src/inference/model-runner.js';
import type { ExecutionProviderName } from '../src/inference/worker-protocol.js';

export interface LimitOptions {
  modelPath: string;
  inputName: string;
  inputSize: number;
  executionProviders: ExecutionProviderName[];
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface LimitPoint {
  /** Sessions × intra-op threads each. */
  layout: string;
  batch: number;
  runs: number;
  /** Mean wall time of one session.run at this batch size. */
  msPerRun: number;
  imagesPerSecond: number;
}

export interface LimitSession {
  executionProvider: ExecutionProviderName;
  /** How the model ran: sessions × intra-op threads each. */
  layout: string;
  measure(batch: number, seconds: number): Promise<LimitPoint>;
  release(): Promise<void>;
}

/**
 * The bare model: one session opened with the service's options (the same provider fallback order,
 * threads and graph optimisation as src/inference/inference-worker.ts), fed pre-built tensors in a
 * tight loop. Nothing the service does can be faster than this on the same machine.
 */
export async function openLimitSession(options: LimitOptions): Promise<LimitSession> {
  const reasons: string[] = [];
  for (const provider of options.executionProviders) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(options.modelPath, {
        executionProviders: [provider],
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: options.interOpThreads,
        graphOptimizationLevel: options.graphOptimization,
        executionMode: 'sequential',
      });
    } catch (error) {
      reasons.push(`${provider}: ${(error as Error).message}`);
      continue;
    }
    const itemSize = 3 * options.inputSize * options.inputSize;
    return {
      executionProvider: provider,
      layout: `1×${options.intraOpThreads}`,
      async measure(batch, seconds) {
        // Random values, not zeros: some kernels shortcut on zeros and denormals.
        const data = Float32Array.from({ length: batch * itemSize }, (_, i) => Math.sin(i * 0.37) * 2);
        const tensor = new ort.Tensor('float32', data, [batch, 3, options.inputSize, options.inputSize]);
        const feeds = { [options.inputName]: tensor };
        await session.run(feeds);
        let runs = 0;
        const started = performance.now();
        let elapsed = 0;
        while (elapsed < seconds * 1000 || runs < 3) {
          await session.run(feeds);
          runs++;
          elapsed = performance.now() - started;
        }
        const msPerRun = elapsed / runs;
        return { layout: `1×${options.intraOpThreads}`, batch, runs, msPerRun, imagesPerSecond: (batch * 1000) / msPerRun };
      },
      release: () => session.release(),
    };
  }
  throw new Error(`no execution provider could open ${options.modelPath}: ${reasons.join(' | ')}`);
}

/** Random values, not zeros: some kernels shortcut on zeros and denormals. */
function benchInput(length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(i * 0.37) * 2);
}

/**
 * Keeps each of `runner`'s sessions busy with one batch at a time for `seconds` (at least one batch
 * each): images per second over all sessions, and the process's CPU time per image.
 */
export async function saturate(runner: ModelRunner, input: Float32Array, batch: number, seconds: number) {
  let images = 0;
  let runs = 0;
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: runner.concurrency }, async () => {
      let buffer: Float32Array = input.slice();
      do {
        const result = await runner.run(buffer, batch);
        buffer = result.input;
        images += batch;
        runs++;
      } while (performance.now() < until);
    }),
  );
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    imagesPerSecond: (images * 1000) / elapsed,
    /** Wall time of one batch on one session. */
    msPerRun: (elapsed * runner.concurrency) / runs,
    runs,
    // ONNX Runtime's threads, spin-waiting included, are nearly all of the process's CPU here.
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images,
  };
}

/**
 * The bare model as the service runs it with several sessions: `sessions` worker threads of one
 * single session each (src/inference, the service's own worker pool), each kept busy with pre-built
 * batches. Sessions run concurrently only on threads of their own, so this is the limit of that
 * layout; the message hand-off per batch is microseconds against a batch's hundreds of milliseconds.
 */
export async function openParallelLimit(options: LimitOptions & { sessions: number; outputName: string }): Promise<LimitSession> {
  const runner = await ModelRunner.open({
    worker: {
      modelPath: options.modelPath,
      executionProviders: options.executionProviders,
      intraOpThreads: options.intraOpThreads,
      interOpThreads: options.interOpThreads,
      graphOptimization: options.graphOptimization,
      nice: 0,
    },
    workers: options.sessions,
    inputName: options.inputName,
    outputName: options.outputName,
    inputSize: options.inputSize,
  });
  const itemSize = 3 * options.inputSize * options.inputSize;
  return {
    executionProvider: runner.description.executionProvider,
    layout: `${options.sessions}×${options.intraOpThreads}`,
    async measure(batch, seconds) {
      const input = benchInput(batch * itemSize);
      await saturate(runner, input, batch, 0);
      const { imagesPerSecond, msPerRun, runs } = await saturate(runner, input, batch, seconds);
      return { layout: `${options.sessions}×${options.intraOpThreads}`, batch, runs, msPerRun, imagesPerSecond };
    },
    release: () => runner.close(),
  };
}
