// npx tsx bench/variant-pair.ts: the raw FP32 model against its variant in alternating pairs of
// session.run at one batch size. On a shared machine a neighbour's load changes within seconds; each
// pair's two runs are back to back, so their ratio is what the load changes least, and the median
// pair is reported beside the plain means. BENCH_VARIANT, BENCH_BATCH, BENCH_PAIRS shape the run.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { executionProviders, intraOpThreads, loadConfig } from '../src/config.js';
import { DEFAULT_MODEL_NAME, defaultManifest } from '../tools/model-builder/default-model.js';
import { openLimitSession } from './limit.js';

const batch = Number(process.env.BENCH_BATCH ?? 8);
const pairs = Number(process.env.BENCH_PAIRS ?? 6);
const variantName = process.env.BENCH_VARIANT ?? `${DEFAULT_MODEL_NAME}-int8`;

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const manifest = defaultManifest();
  const open = async (folder: string) => {
    const file = (
      JSON.parse(await readFile(path.join(config.MODEL_REPOSITORY, folder, 'manifest.json'), 'utf8')) as { file: string }
    ).file;
    return openLimitSession({
      modelPath: path.join(config.MODEL_REPOSITORY, folder, file),
      inputName: manifest.input.name,
      inputSize: manifest.input.size,
      executionProviders: executionProviders(config),
      intraOpThreads: intraOpThreads(config, 1),
      interOpThreads: config.INTER_OP_THREADS,
      graphOptimization: config.GRAPH_OPTIMIZATION,
    });
  };
  const fp32 = await open(DEFAULT_MODEL_NAME);
  const variant = await open(variantName);
  console.log(
    `${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, load average ${os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')}`,
  );
  const ratios: number[] = [];
  const rates = { fp32: [] as number[], variant: [] as number[] };
  for (let pair = 0; pair < pairs; pair++) {
    // Zero seconds: the mean of three timed runs after one untimed, for each model in turn.
    const a = await fp32.measure(batch, 0);
    const b = await variant.measure(batch, 0);
    rates.fp32.push(a.imagesPerSecond);
    rates.variant.push(b.imagesPerSecond);
    ratios.push(b.imagesPerSecond / a.imagesPerSecond);
    console.log(
      `pair ${pair + 1}: FP32 ${a.imagesPerSecond.toFixed(2)} img/s, ${variantName} ${b.imagesPerSecond.toFixed(2)} img/s, ratio ${ratios.at(-1)!.toFixed(2)}`,
    );
  }
  await fp32.release();
  await variant.release();
  const sorted = [...ratios].sort((x, y) => x - y);
  const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  console.log(
    `batch ${batch}, ${pairs} pairs: median ratio ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} (min ${sorted[0]!.toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)}); ` +
      `means FP32 ${mean(rates.fp32).toFixed(2)}, ${variantName} ${mean(rates.variant).toFixed(2)} img/s; load average now ${os.loadavg()[0]!.toFixed(1)}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
