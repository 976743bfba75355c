import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import { lowerPriority } from './thread-priority.js';
import type { WorkerReply } from './worker-pool.js';
import type {
  DescribeResult,
  ExecutionProviderName,
  InferenceTask,
  InferenceWorkerData,
  RunResult,
  TensorMetadata,
} from './worker-protocol.js';

const settings = workerData as InferenceWorkerData;

const priorityProblem = lowerPriority(settings.nice);

interface LoadedSession {
  session: ort.InferenceSession;
  executionProvider: ExecutionProviderName;
  fallbacks: DescribeResult['fallbacks'];
}

/**
 * onnxruntime-node treats a provider it cannot load (CUDA on a machine without it) as a hard error
 * rather than a fallback, so each provider is tried on its own and the reasons are kept for the log.
 */
async function openSession(): Promise<LoadedSession> {
  const fallbacks: DescribeResult['fallbacks'] = [];
  for (const provider of settings.executionProviders) {
    try {
      const session = await ort.InferenceSession.create(settings.modelPath, {
        executionProviders: [provider],
        intraOpNumThreads: settings.intraOpThreads,
        interOpNumThreads: settings.interOpThreads,
        graphOptimizationLevel: settings.graphOptimization,
        executionMode: 'sequential',
        ...(settings.allowSpinning === undefined
          ? {}
          : { extra: { session: { intra_op: { allow_spinning: settings.allowSpinning ? '1' : '0' } } } }),
      });
      return { session, executionProvider: provider, fallbacks };
    } catch (error) {
      fallbacks.push({ provider, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const tried = fallbacks.map((entry) => `${entry.provider}: ${entry.reason}`).join(' | ');
  throw new Error(`no execution provider could open ${settings.modelPath} (${tried})`);
}

const loading = openSession();
// A failed load is reported through each job; either way the worker can take jobs now.
loading.then(
  () => parentPort!.postMessage({ ready: true } satisfies WorkerReply),
  () => parentPort!.postMessage({ ready: true } satisfies WorkerReply),
);

function metadataOf(entries: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return entries.map((entry) =>
    entry.isTensor
      ? { name: entry.name, shape: [...entry.shape], type: entry.type }
      : { name: entry.name, shape: [], type: 'non-tensor' },
  );
}

export async function handle(task: InferenceTask): Promise<{ value: DescribeResult | RunResult; transfer: TransferListItem[] }> {
  const { session, executionProvider, fallbacks } = await loading;
  if (task.kind === 'describe') {
    return {
      value: {
        executionProvider,
        fallbacks,
        priorityProblem,
        inputs: metadataOf(session.inputMetadata),
        outputs: metadataOf(session.outputMetadata),
      },
      transfer: [],
    };
  }
  const [channels, height, width] = task.itemShape;
  const length = task.batch * channels * height * width;
  const tensor = new ort.Tensor('float32', task.input.subarray(0, length), [task.batch, channels, height, width]);
  const started = performance.now();
  const outputs = await session.run({ [task.inputName]: tensor }, [task.outputName]);
  const inferenceSeconds = (performance.now() - started) / 1000;
  const output = outputs[task.outputName]!.data as Float32Array;
  tensor.dispose?.();
  const result: RunResult = { output, input: task.input, inferenceSeconds };
  // Transferring both buffers back avoids a copy and lets the batcher reuse the input buffer.
  return { value: result, transfer: [output.buffer as ArrayBuffer, task.input.buffer as ArrayBuffer] };
}

parentPort!.on('message', (task: InferenceTask) => {
  handle(task).then(
    ({ value, transfer }) => parentPort!.postMessage({ ok: true, value } satisfies WorkerReply, transfer),
    (error: unknown) => {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      parentPort!.postMessage({ ok: false, error: { name, message } } satisfies WorkerReply);
    },
  );
});
