/** Messages between the main thread and an inference worker; plain data so they cross `postMessage`. */

export type ExecutionProviderName = 'cuda' | 'cpu';

export interface InferenceWorkerData {
  modelPath: string;
  executionProviders: ExecutionProviderName[];
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /** Linux nice value for this thread and the ONNX Runtime threads it starts; 0 leaves them alone. */
  nice: number;
  /**
   * Whether ONNX Runtime's intra-op threads busy-wait for work between ops (its default) instead of
   * sleeping; unset keeps ONNX Runtime's default.
   */
  allowSpinning?: boolean;
}

export interface TensorMetadata {
  name: string;
  /** Dimensions as ONNX declares them: numbers, or symbolic names for dynamic axes. */
  shape: Array<number | string>;
  type: string;
}

export interface DescribeTask {
  kind: 'describe';
}

export interface DescribeResult {
  executionProvider: ExecutionProviderName;
  /** Why each provider tried before the one in use was given up, in order. */
  fallbacks: Array<{ provider: ExecutionProviderName; reason: string }>;
  /** Why the inference threads' priority could not be lowered, when it could not. */
  priorityProblem: string | null;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface RunTask {
  kind: 'run';
  inputName: string;
  outputName: string;
  /** Holds at least `batch` crops of `itemShape`; it comes back in the result so the caller can reuse it. */
  input: Float32Array;
  batch: number;
  itemShape: [number, number, number];
}

export interface RunResult {
  output: Float32Array;
  input: Float32Array;
  inferenceSeconds: number;
}

export type InferenceTask = DescribeTask | RunTask;
