// npm run build && node dist/bench/service-pair.js (tsx works too, but its loader inflates the
// service's CPU figures): two or more service configurations under the same load, in alternating
// phases (A, B, A, B, ...), so that a neighbour's load on a shared machine hits each alike;
// per configuration it reports the median crops/s, the median ratio to the first configuration over
// the rounds, /healthz p99 and the CPU each request cost by thread group (less sensitive to neighbours
// than throughput). BENCH_CONFIGS="label:KEY=V,KEY=V;label:..." (each on top of the defaults),
// BENCH_ROUNDS (4), BENCH_DURATION_S (10), BENCH_WARMUP_S (2), BENCH_CONNECTIONS (8). A configuration
// with BENCH_SERVER_DIR=<checkout>/dist/bench runs that build's service; BENCH_PROFILE_DIR=<dir>
// writes a CPU profile of the service's event loop per phase; BENCH_SERVICE_NODE_ARGS=<flags> in a
// configuration starts that configuration's service with those Node/V8 flags.
import os from 'node:os';
import { ensureDefaultModel } from '../tools/model-builder/default-model.js';
import { load, median, percentile, probeHealth, scrape, serviceEnv, ServiceProcess } from './service-load.js';
import { syntheticPhoto } from './synthetic-photo.js';

interface Configuration {
  label: string;
  overrides: Record<string, string>;
}

export function parseConfigurations(text: string): Configuration[] {
  return text.split(';').map((entry) => {
    const [label, settings = ''] = entry.split(':');
    const overrides = Object.fromEntries(
      settings
        .split(',')
        .filter(Boolean)
        .map((pair) => {
          // Split at the first '=' only: a value may hold one (BENCH_SERVICE_NODE_ARGS=--flag=value).
          const at = pair.indexOf('=');
          if (at < 1) throw new Error(`"${pair}" in BENCH_CONFIGS is not KEY=VALUE`);
          return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
        }),
    );
    return { label: label!.trim(), overrides };
  });
}

interface Phase {
  cropsPerSecond: number;
  healthzP99Ms: number;
  loopDelayP99Ms: number;
  averageBatchSize: number;
  /** CPU milliseconds per request inferred, by thread group. */
  eventLoopMs: number;
  /** The kernel's share of eventLoopMs (socket writes, and on a busy machine others' softirq work). */
  eventLoopSystemMs: number;
  libvipsMs: number;
  otherMs: number;
  eventLoopUtilization: number;
  errors: number;
  /** Crops through the model per second of the phase, by /metrics (finer-grained than completed requests). */
  inferredCropsPerSecond: number;
  /** The service process's largest resident set in the phase, sampled, and so far, start-up included. */
  phaseMaxRssMiB: number;
  lifetimeMaxRssMiB: number;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const configurations = parseConfigurations(process.env.BENCH_CONFIGS ?? 'default:;2x1:WORKERS_PER_MODEL=2,INTRA_OP_THREADS=1');
  const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
  const duration = Number(process.env.BENCH_DURATION_S ?? 10);
  const warmup = Number(process.env.BENCH_WARMUP_S ?? 2);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
  const env = serviceEnv({});
  await ensureDefaultModel(env.MODEL_REPOSITORY!);
  const model = env.MODELS!.split(',')[0]!.trim();
  const { jpeg, face } = await syntheticPhoto();
  const body = JSON.stringify({ image: jpeg.toString('base64'), boxes: [face], tta: true });
  const cropsPerRequest = 2;
  const services: ServiceProcess[] = [];
  for (const configuration of configurations) services.push(await ServiceProcess.start(serviceEnv(configuration.overrides)));
  const sample = await fetch(`${services[0]!.url}/v1/models/${model}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const answer = await sample.text();
  if (sample.status !== 200) throw new Error(`predict answered ${sample.status}: ${answer.slice(0, 500)}`);
  console.log(`request ${body.length} bytes of JSON, response ${answer.length} bytes`);
  console.log(
    `${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, c=${connections}, ${rounds} rounds of ${duration} s; load average ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  const phases: Phase[][] = configurations.map(() => []);
  try {
    for (let round = 0; round < rounds; round++) {
      // The order alternates too, so neither configuration always follows the other.
      const order = configurations.map((_, index) => index);
      if (round % 2 === 1) order.reverse();
      for (const index of order) {
        const service = services[index]!;
        const url = `${service.url}/v1/models/${model}/predict`;
        if (warmup > 0) await load(url, body, connections, warmup);
        const before = await scrape(service.url, model);
        service.startPhase();
        const stopProbe = probeHealth(service.url);
        const result = await load(url, body, connections, duration);
        const health = await stopProbe();
        const report = await service.endPhase();
        const after = await scrape(service.url, model);
        const batches = after.batchCount - before.batchCount;
        // What the service inferred in the phase, not what the client saw finish: at seconds a batch
        // the two differ by a whole batch, and CPU time belongs to the former.
        const crops = after.batchSum - before.batchSum;
        const requests = Math.max(1, crops / cropsPerRequest);
        const phase: Phase = {
          cropsPerSecond: (result['2xx'] * cropsPerRequest) / result.duration,
          healthzP99Ms: percentile(health, 99),
          loopDelayP99Ms: report.loopDelayP99Ms,
          averageBatchSize: batches > 0 ? (after.batchSum - before.batchSum) / batches : 0,
          eventLoopMs: (1000 * report.cpuSeconds.eventLoop) / requests,
          eventLoopSystemMs: (1000 * report.cpuSeconds.eventLoopSystem) / requests,
          libvipsMs: (1000 * report.cpuSeconds.libvips) / requests,
          otherMs: (1000 * report.cpuSeconds.other) / requests,
          inferredCropsPerSecond: crops / duration,
          eventLoopUtilization: report.eventLoopUtilization,
          errors: result.errors + result.non2xx,
          phaseMaxRssMiB: report.peakRssBytes / 2 ** 20,
          lifetimeMaxRssMiB: report.lifetimeMaxRssBytes / 2 ** 20,
        };
        phases[index]!.push(phase);
        console.log(
          `round ${round + 1} ${configurations[index]!.label}: ${phase.cropsPerSecond.toFixed(2)} crops/s (inferred ${phase.inferredCropsPerSecond.toFixed(2)}), /healthz p99 ${phase.healthzP99Ms.toFixed(1)} ms, ` +
            `loop p99 ${phase.loopDelayP99Ms.toFixed(1)} ms, batch ${phase.averageBatchSize.toFixed(1)}, CPU per request: loop ${phase.eventLoopMs.toFixed(1)} ms (kernel ${phase.eventLoopSystemMs.toFixed(1)}) ` +
            `(ELU ${phase.eventLoopUtilization.toFixed(3)}), libvips ${phase.libvipsMs.toFixed(1)} ms, rest ${phase.otherMs.toFixed(0)} ms, RSS peak ${phase.phaseMaxRssMiB.toFixed(0)} MiB (lifetime ${phase.lifetimeMaxRssMiB.toFixed(0)}; ` +
            `at the end V8 heap ${mib(report.memoryAtEnd.heapUsed)}, external ${mib(report.memoryAtEnd.external)} of which array buffers ${mib(report.memoryAtEnd.arrayBuffers)})` +
            (phase.errors > 0 ? `, ${phase.errors} errors` : '') +
            `; load ${os.loadavg()[0]!.toFixed(2)}`,
        );
      }
    }
  } finally {
    for (const service of services) await service.stop();
  }
  console.log('medians over the rounds:');
  for (const [index, configuration] of configurations.entries()) {
    const own = phases[index]!;
    const ratios = own.map((phase, round) => phase.inferredCropsPerSecond / phases[0]![round]!.inferredCropsPerSecond);
    const pick = (key: keyof Phase) => median(own.map((phase) => phase[key]));
    console.log(
      `  ${configuration.label}: ${pick('cropsPerSecond').toFixed(2)} crops/s, inferred ${pick('inferredCropsPerSecond').toFixed(2)} (ratio to ${configurations[0]!.label} ${median(ratios).toFixed(3)}: ${ratios
        .map((ratio) => ratio.toFixed(2))
        .join(
          ' ',
        )}), /healthz p99 ${pick('healthzP99Ms').toFixed(1)} ms (max ${Math.max(...own.map((phase) => phase.healthzP99Ms)).toFixed(1)}), ` +
        `loop p99 ${pick('loopDelayP99Ms').toFixed(1)} ms, CPU per request: loop ${pick('eventLoopMs').toFixed(1)} ms (kernel ${pick('eventLoopSystemMs').toFixed(1)}), libvips ${pick('libvipsMs').toFixed(1)} ms, rest ${pick('otherMs').toFixed(0)} ms`,
    );
  }
  console.log(`load average now ${os.loadavg()[0]!.toFixed(2)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
