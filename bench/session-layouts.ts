// npx tsx bench/session-layouts.ts: the bare model through the service's own worker pool under
// several session layouts (sessions × intra-op threads, ONNX Runtime's spinning on or off), in
// interleaved rounds so that a neighbour's load hits every layout alike. Each layout keeps one batch
// in flight per session, as the batcher does under load; the median round per layout is reported.
// BENCH_LAYOUTS ("2x1,1x2,1x2-nospin"), BENCH_BATCH (8), BENCH_ROUNDS (4), BENCH_ROUND_S (6).
import os from 'node:os';
import path from 'node:path';
import { executionProviders, loadConfig } from '../src/config.js';
import { cudaUnavailableReason } from '../src/inference/cuda-availability.js';
import { ModelRunner } from '../src/inference/model-runner.js';
import { DEFAULT_MODEL_NAME, defaultManifest } from '../tools/model-builder/default-model.js';
import { saturate } from './limit.js';

export interface Layout {
  label: string;
  sessions: number;
  threads: number;
  allowSpinning: boolean | undefined;
}

export function parseLayout(text: string): Layout {
  const match = /^(\d+)x(\d+)(-nospin|-spin)?$/.exec(text.trim());
  if (!match) throw new Error(`layout "${text}" is not <sessions>x<threads>[-nospin|-spin]`);
  return {
    label: text.trim(),
    sessions: Number(match[1]),
    threads: Number(match[2]),
    allowSpinning: match[3] === '-nospin' ? false : match[3] === '-spin' ? true : undefined,
  };
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const layouts = (process.env.BENCH_LAYOUTS ?? '2x1,1x2,1x2-nospin').split(',').map(parseLayout);
  const batch = Number(process.env.BENCH_BATCH ?? 8);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
  const roundSeconds = Number(process.env.BENCH_ROUND_S ?? 6);
  const manifest = defaultManifest();
  const itemSize = 3 * manifest.input.size ** 2;
  const input = Float32Array.from({ length: batch * itemSize }, (_, i) => Math.sin(i * 0.37) * 2);
  const runners = [];
  for (const layout of layouts) {
    runners.push(
      await ModelRunner.open({
        worker: {
          modelPath: path.join(config.MODEL_REPOSITORY, DEFAULT_MODEL_NAME, 'model.onnx'),
          executionProviders: executionProviders(config).filter((p) => p !== 'cuda' || cudaUnavailableReason() === null),
          intraOpThreads: layout.threads,
          interOpThreads: config.INTER_OP_THREADS,
          graphOptimization: config.GRAPH_OPTIMIZATION,
          nice: 0,
          ...(layout.allowSpinning === undefined ? {} : { allowSpinning: layout.allowSpinning }),
        },
        workers: layout.sessions,
        inputName: manifest.input.name,
        outputName: manifest.output.name,
        inputSize: manifest.input.size,
      }),
    );
  }
  console.log(
    `${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, batch ${batch}, load average ${os.loadavg()[0]!.toFixed(2)}`,
  );
  const rates: number[][] = layouts.map(() => []);
  const cpu: number[][] = layouts.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const line: string[] = [];
    for (const [index, layout] of layouts.entries()) {
      await saturate(runners[index]!, input, batch, 0.5);
      const measured = await saturate(runners[index]!, input, batch, roundSeconds);
      rates[index]!.push(measured.imagesPerSecond);
      cpu[index]!.push(measured.cpuMsPerImage);
      line.push(`${layout.label} ${measured.imagesPerSecond.toFixed(2)} img/s (${measured.cpuMsPerImage.toFixed(0)} CPU ms/img)`);
    }
    console.log(`round ${round + 1}: ${line.join(', ')}; load ${os.loadavg()[0]!.toFixed(2)}`);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  for (const [index, layout] of layouts.entries()) {
    const ratio = rates[index]!.map((rate, round) => rate / rates[0]![round]!);
    console.log(
      `${layout.label}: median ${median(rates[index]!).toFixed(2)} img/s, median ratio to ${layouts[0]!.label} ${median(ratio).toFixed(3)}, median ${median(cpu[index]!).toFixed(0)} CPU ms/img`,
    );
  }
  for (const runner of runners) await runner.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
