// The pieces every service benchmark shares: the service in a child process driven over IPC, the
// load generator, the /healthz probe and the /metrics scrape.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import autocannon, { type Result } from 'autocannon';
import { DEFAULT_MODEL_NAME } from '../tools/model-builder/default-model.js';
import type { ChildMessage, ParentMessage } from './server-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root, from the compiled `dist/bench/` as from the sources run by tsx. */
export const root = [path.resolve(here, '..'), path.resolve(here, '../..')].find((candidate) =>
  existsSync(path.join(candidate, 'package.json')),
)!;

/** The service's environment: the bench's own, the default model, quiet logs, an ephemeral port. */
/**
 * The V8 flags `npm start` and the container give the service (package.json, Dockerfile; a test keeps
 * the three equal). A 250 kB base64 image is a large object, allocated straight into the old generation,
 * and with V8's default limits for a small heap that forced a full mark-compact every ~0.25 s under load;
 * a larger initial old space makes it every ~1.2 s (docs/throughput.md, "Garbage collection").
 */
export const SERVICE_NODE_FLAGS = ['--initial-old-space-size=128'] as const;

export function serviceEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MODEL_REPOSITORY: process.env.MODEL_REPOSITORY ?? path.join(root, 'models'),
    MODELS: process.env.MODELS || DEFAULT_MODEL_NAME,
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...overrides,
  };
}

export type PhaseReport = Extract<ChildMessage, { type: 'phase' }>;

export class ServiceProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(env: NodeJS.ProcessEnv): Promise<ServiceProcess> {
    // BENCH_SERVER_DIR: the compiled bench folder of another checkout, to compare code versions.
    const directory = env.BENCH_SERVER_DIR ?? here;
    const compiled = path.join(directory, 'server-process.js');
    // Under tsx only the TypeScript source exists, and the child needs tsx's loader too.
    const [file, execArgv] = existsSync(compiled)
      ? [compiled, process.execArgv]
      : [path.join(directory, 'server-process.ts'), ['--import', 'tsx']];
    // BENCH_SERVICE_NODE_ARGS reaches the service alone (e.g. --cpu-prof, which NODE_OPTIONS refuses),
    // after the service's own flags, so that it can override them.
    const extra = (env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = fork(file, [], {
      env,
      execArgv: [...execArgv, ...SERVICE_NODE_FLAGS, ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const message = await new Promise<ChildMessage>((resolve, reject) => {
      child.once('message', (first: ChildMessage) => resolve(first));
      child.once('exit', (code) => reject(new Error(`service exited with code ${code} before it was ready`)));
    });
    if (message.type !== 'ready')
      throw new Error(`service failed to start: ${message.type === 'failed' ? message.error : message.type}`);
    return new ServiceProcess(child, message.url);
  }

  private ask(message: ParentMessage): Promise<PhaseReport> {
    return new Promise((resolve) => {
      this.child.once('message', resolve);
      this.child.send(message);
    });
  }

  startPhase(): void {
    this.child.send({ type: 'phase-start' } satisfies ParentMessage);
  }

  endPhase(): Promise<PhaseReport> {
    return this.ask({ type: 'phase-end' });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'exit' } satisfies ParentMessage);
    await exited;
  }
}

/** Sums and counts of the histograms the benchmarks read, from the Prometheus exposition. */
export async function scrape(url: string, model: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (metric: string, labels: string) => {
    const line = text
      .split('\n')
      .find((entry) => entry.startsWith(`${metric}{`) && labels.split(',').every((label) => entry.includes(label)));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const modelLabel = `model="${model}"`;
  return {
    batchSum: value('huber_inference_batch_size_sum', modelLabel),
    batchCount: value('huber_inference_batch_size_count', modelLabel),
    queueSum: value('huber_stage_duration_seconds_sum', `${modelLabel},stage="queue"`),
    queueCount: value('huber_stage_duration_seconds_count', `${modelLabel},stage="queue"`),
    inferenceSum: value('huber_stage_duration_seconds_sum', `${modelLabel},stage="inference"`),
    inferenceCount: value('huber_stage_duration_seconds_count', `${modelLabel},stage="inference"`),
  };
}

/**
 * Probes GET /healthz every 20 ms from its own thread, so autocannon's work on the bench's event loop
 * does not count as the service's latency. Returns a function that stops it and yields the latencies.
 */
export function probeHealth(baseUrl: string): () => Promise<number[]> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const latencies = [];
    let running = true;
    parentPort.on('message', () => { running = false; });
    (async () => {
      while (running) {
        const started = performance.now();
        try { const response = await fetch(workerData.url); await response.arrayBuffer(); latencies.push(performance.now() - started); }
        catch { latencies.push(Infinity); }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      parentPort.postMessage(latencies);
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { url: `${baseUrl}/healthz` } });
  return () =>
    new Promise((resolve) => {
      worker.once('message', (latencies: number[]) => {
        void worker.terminate();
        resolve(latencies);
      });
      worker.postMessage('stop');
    });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function load(url: string, body: string, connections: number, duration: number): Promise<Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration,
    // A CPU batch of 8 big crops takes seconds; a request queued behind several must not time out.
    timeout: 120,
  });
}
