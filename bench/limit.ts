import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
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
  batch: number;
  runs: number;
  /** Mean wall time of one session.run at this batch size. */
  msPerRun: number;
  imagesPerSecond: number;
}

export interface LimitSession {
  executionProvider: ExecutionProviderName;
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
        return { batch, runs, msPerRun, imagesPerSecond: (batch * 1000) / msPerRun };
      },
      release: () => session.release(),
    };
  }
  throw new Error(`no execution provider could open ${options.modelPath}: ${reasons.join(' | ')}`);
}
