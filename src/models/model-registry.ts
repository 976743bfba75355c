import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { kappa, type KeypointNormalization } from '../huber/index.js';
import { DynamicBatcher } from '../inference/dynamic-batcher.js';
import { ModelRunner } from '../inference/model-runner.js';
import type { DescribeResult, ExecutionProviderName, TensorMetadata } from '../inference/worker-protocol.js';
import type { Metrics } from '../metrics.js';
import { CropBufferPool } from '../pipeline/crop-buffer-pool.js';
import { flipPermutation, ManifestError, parseManifest, type Manifest, type ModelPrecision } from './manifest.js';

export type ModelState = 'loading' | 'ready' | 'failed';

export interface ModelRuntimeOptions {
  executionProviders: ExecutionProviderName[];
  /** Providers asked for but left out before any session was opened (CUDA on a machine without it), and why. */
  unavailableProviders: DescribeResult['fallbacks'];
  /** Sessions and threads for a model that runs on `providers` (first choice first) and has `modelBytes` of ONNX file. */
  sessionLayout: (providers: readonly ExecutionProviderName[], modelBytes: number) => { workers: number; intraOpThreads: number };
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  inferenceNice: number;
  maxBatchSize: number;
  maxBatchWaitMs: number;
  warmup: boolean;
  inferenceTimeoutMs: number;
}

/** What the pipeline needs of a loaded model, derived once from its manifest. */
export interface ServedModel {
  manifest: Manifest;
  runner: ModelRunner;
  batcher: DynamicBatcher;
  executionProvider: ExecutionProviderName;
  fallbacks: DescribeResult['fallbacks'];
  precision: ModelPrecision;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  normalization: KeypointNormalization[];
  flip: Int32Array;
  keypointNames: string[];
  kappa: number;
  itemSize: number;
  outputSize: number;
  /** Crop buffers reused across this model's requests (src/pipeline/crop-buffer-pool.ts). */
  cropBuffers: CropBufferPool;
}

/**
 * Idle crop buffers a model keeps: 64 MiB is 55 two-view requests of one box at 224², more than a
 * 2-core machine has in flight at c=8; past it the garbage collector takes them as before.
 */
const IDLE_CROP_BUFFER_BYTES = 64 * 2 ** 20;

export interface ModelEntry {
  folder: string;
  state: ModelState;
  manifest: Manifest | null;
  error: string | null;
  served: ServedModel | null;
}

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

const identityWhitening: KeypointNormalization['whitening'] = [
  [1, 0],
  [0, 1],
];

/**
 * ONNX Runtime's default CUDA build implements only QuantizeLinear, DequantizeLinear and
 * MatMulInteger of the quantized operators (its FAQ), so a QDQ INT8 model on CUDA would run its
 * convolutions in float after dequantizing every weight: slower than the FP32 parent, not faster.
 * Not measured here (no GPU); the INT8 variant is kept to the providers it was made for.
 */
const INT8_ON_CUDA_REASON =
  "an INT8 (QDQ) variant does not run on CUDA: ONNX Runtime's CUDA build has no INT8 convolution kernels, so it would dequantize to float and lose to the FP32 parent; use the FP32 or FP16 model on GPUs";

/**
 * Measured with onnxruntime-node 1.30 on this project's ResNet-18 fixture: the CPU provider loads an
 * FP16 model by inserting Casts and folding the FP16 weights back into FP32 nodes, so it computes in
 * FP32 and ran 1.35× slower than the FP32 parent. It works, so it is served, with this warning.
 */
const FP16_ON_CPU_WARNING =
  'FP16 model on the CPU execution provider: ONNX Runtime casts it back to FP32 node by node (no speed-up, measured slower than the FP32 parent); serve the FP32 or INT8 model on CPUs';

/** The providers a model of this precision is offered to, and why any were left out. */
export function providersForPrecision(
  precision: ModelPrecision,
  requested: readonly ExecutionProviderName[],
): { providers: ExecutionProviderName[]; skipped: DescribeResult['fallbacks'] } {
  if (precision !== 'int8') return { providers: [...requested], skipped: [] };
  return {
    providers: requested.filter((provider) => provider !== 'cuda'),
    skipped: requested.filter((provider) => provider === 'cuda').map((provider) => ({ provider, reason: INT8_ON_CUDA_REASON })),
  };
}

/** Refuses a model whose ONNX signature cannot carry what its manifest promises; the message names the mismatch. */
export function checkSignature(manifest: Manifest, inputs: TensorMetadata[], outputs: TensorMetadata[]): void {
  const input = inputs.find((entry) => entry.name === manifest.input.name);
  if (!input) {
    throw new ModelLoadError(
      `manifest input.name "${manifest.input.name}" is not an input of ${manifest.file} (it has ${inputs.map((entry) => `"${entry.name}"`).join(', ')})`,
    );
  }
  if (input.type !== 'float32') throw new ModelLoadError(`input "${input.name}" is ${input.type}, expected float32`);
  const size = manifest.input.size;
  const [batch, channels, height, width] = input.shape;
  const fits = (dimension: number | string | undefined, expected: number) => typeof dimension === 'string' || dimension === expected;
  if (input.shape.length !== 4 || typeof batch === 'number' || !fits(channels, 3) || !fits(height, size) || !fits(width, size)) {
    throw new ModelLoadError(
      `input "${input.name}" has shape [${input.shape.join(', ')}], expected [N, 3, ${size}, ${size}] with a dynamic batch axis N`,
    );
  }
  const output = outputs.find((entry) => entry.name === manifest.output.name);
  if (!output) {
    throw new ModelLoadError(
      `manifest output.name "${manifest.output.name}" is not an output of ${manifest.file} (it has ${outputs.map((entry) => `"${entry.name}"`).join(', ')})`,
    );
  }
  if (output.type !== 'float32') throw new ModelLoadError(`output "${output.name}" is ${output.type}, expected float32`);
  const expected = 5 * manifest.keypoints.length;
  if (output.shape.length !== 2 || typeof output.shape[0] === 'number' || output.shape[1] !== expected) {
    throw new ModelLoadError(
      `output "${output.name}" has shape [${output.shape.join(', ')}], expected [N, ${expected}] (5 numbers for each of the manifest's ${manifest.keypoints.length} keypoints)`,
    );
  }
}

export class ModelRegistry {
  readonly entries = new Map<string, ModelEntry>();
  /** Set when shutdown begins; readiness drops at once. */
  closing = false;

  constructor(
    private readonly repository: string,
    private readonly options: ModelRuntimeOptions,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Loads every model folder (or the named ones); one model failing leaves the others serving. */
  async loadAll(only: string[] = []): Promise<void> {
    const root = path.resolve(this.repository);
    let folders: string[];
    try {
      const dirents = await fs.readdir(root, { withFileTypes: true });
      folders = dirents.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
    } catch (error) {
      throw new ModelLoadError(`model repository ${root} cannot be read: ${(error as Error).message}`);
    }
    if (only.length > 0) {
      const missing = only.filter((name) => !folders.includes(name));
      if (missing.length > 0) throw new ModelLoadError(`MODELS names folders that are not in ${root}: ${missing.join(', ')}`);
      folders = folders.filter((name) => only.includes(name));
    }
    for (const folder of folders) this.entries.set(folder, { folder, state: 'loading', manifest: null, error: null, served: null });
    this.updateInfo();
    // Sequential, so that several large models do not compete for memory and cores while warming up.
    for (const folder of folders) await this.load(path.join(root, folder), this.entries.get(folder)!);
  }

  private async load(directory: string, entry: ModelEntry): Promise<void> {
    let runner: ModelRunner | null = null;
    try {
      const manifestPath = path.join(directory, 'manifest.json');
      let json: unknown;
      try {
        json = JSON.parse(await fs.readFile(manifestPath, 'utf8'));
      } catch (error) {
        throw new ManifestError(`${manifestPath}: ${(error as Error).message}`);
      }
      const manifest = parseManifest(json, manifestPath);
      if (manifest.name !== entry.folder) {
        throw new ManifestError(`${manifestPath}: name "${manifest.name}" differs from its folder "${entry.folder}"`);
      }
      entry.manifest = manifest;
      const modelPath = path.join(directory, manifest.file);
      const modelBytes = await fs.stat(modelPath).then(
        (stats) => stats.size,
        () => {
          throw new ModelLoadError(`${modelPath} does not exist`);
        },
      );
      const name = manifest.name;
      const precision = manifest.precision ?? 'fp32';
      const { providers, skipped } = providersForPrecision(precision, this.options.executionProviders);
      if (providers.length === 0) {
        const reasons = [...this.options.unavailableProviders, ...skipped].map((entry) => `${entry.provider}: ${entry.reason}`);
        throw new ModelLoadError(`no execution provider could open ${modelPath} (${reasons.join(' | ')})`);
      }
      const layout = this.options.sessionLayout(providers, modelBytes);
      runner = await ModelRunner.open({
        worker: {
          modelPath,
          executionProviders: providers,
          intraOpThreads: layout.intraOpThreads,
          interOpThreads: this.options.interOpThreads,
          graphOptimization: this.options.graphOptimization,
          nice: this.options.inferenceNice,
        },
        workers: layout.workers,
        inputName: manifest.input.name,
        outputName: manifest.output.name,
        inputSize: manifest.input.size,
        timeoutMs: this.options.inferenceTimeoutMs,
        onReplace: (reason, detail) => {
          this.metrics.workerReplacements.inc({ model: name, reason });
          this.log.error({ model: name, reason, detail }, 'inference worker replaced');
        },
        onInference: (seconds, batch) => {
          this.metrics.stageDuration.observe({ model: name, stage: 'inference' }, seconds);
          this.metrics.batchSize.observe({ model: name }, batch);
        },
      });
      const description = runner.description;
      const fallbacks = [...this.options.unavailableProviders, ...skipped, ...description.fallbacks];
      // Unavailable providers were logged once at start-up, not once per model.
      for (const fallback of [...skipped, ...description.fallbacks]) {
        this.log.warn({ model: name, provider: fallback.provider, reason: fallback.reason }, 'execution provider unavailable, falling back');
      }
      if (precision === 'fp16' && description.executionProvider === 'cpu') this.log.warn({ model: name }, FP16_ON_CPU_WARNING);
      if (description.priorityProblem) {
        this.log.warn({ model: name, reason: description.priorityProblem }, 'inference thread priority left unchanged');
      }
      checkSignature(manifest, description.inputs, description.outputs);
      const size = manifest.input.size;
      const itemSize = 3 * size * size;
      const outputSize = 5 * manifest.keypoints.length;
      const batcher = new DynamicBatcher(runner, {
        itemSize,
        outputSize,
        maxBatchSize: this.options.maxBatchSize,
        maxWaitMs: this.options.maxBatchWaitMs,
      });
      batcher.onBatch((event) => {
        for (const seconds of event.queuedSeconds) this.metrics.stageDuration.observe({ model: name, stage: 'queue' }, seconds);
      });
      const served: ServedModel = {
        manifest,
        runner,
        batcher,
        executionProvider: description.executionProvider,
        fallbacks,
        precision,
        inputs: description.inputs,
        outputs: description.outputs,
        normalization: manifest.keypoints.map((keypoint) => ({
          mean: keypoint.mean ?? [0, 0],
          whitening: keypoint.whitening ?? identityWhitening,
        })),
        flip: flipPermutation(manifest),
        keypointNames: manifest.keypoints.map((keypoint) => keypoint.name),
        kappa: kappa(2, manifest.distribution.delta),
        itemSize,
        outputSize,
        cropBuffers: new CropBufferPool(IDLE_CROP_BUFFER_BYTES),
      };
      if (this.options.warmup) {
        // A first run pays for memory planning and kernel selection; clients should not.
        await batcher.submit(new Float32Array(2 * itemSize), 2);
      }
      entry.served = served;
      entry.state = 'ready';
      this.metrics.queueDepthSources.set(name, () => batcher.depth);
      this.log.info(
        {
          model: name,
          executionProvider: served.executionProvider,
          sessions: layout.workers,
          threadsPerSession: layout.intraOpThreads,
          trained: manifest.trained,
        },
        'model ready',
      );
    } catch (error) {
      if (runner) await runner.close().catch(() => undefined);
      entry.state = 'failed';
      entry.error = error instanceof Error ? error.message : String(error);
      this.log.error({ model: entry.folder, error: entry.error }, 'model failed to load');
    } finally {
      this.updateInfo();
    }
  }

  private updateInfo(): void {
    this.metrics.modelInfo.reset();
    for (const entry of this.entries.values()) {
      this.metrics.modelInfo.set(
        {
          model: entry.folder,
          version: entry.manifest?.version ?? '',
          trained: String(entry.manifest?.trained ?? false),
          execution_provider: entry.served?.executionProvider ?? 'none',
          precision: entry.manifest?.precision ?? (entry.manifest ? 'fp32' : ''),
          state: entry.state,
        },
        1,
      );
    }
  }

  get ready(): boolean {
    return !this.closing && this.entries.size > 0 && [...this.entries.values()].every((entry) => entry.state !== 'loading') &&
      [...this.entries.values()].some((entry) => entry.state === 'ready');
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].flatMap((entry) => (entry.served ? [entry.served.runner.close()] : [])));
  }
}
