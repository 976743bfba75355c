// The service under load, in its own process so that its event-loop delay and memory are its own:
// the load generator and the limit measurement run in the parent. Configured by the environment,
// exactly like `npm start`; driven by the parent over IPC.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ensureDefaultModel } from '../tools/model-builder/default-model.js';

export type ParentMessage = { type: 'phase-start' } | { type: 'phase-end' } | { type: 'exit' };
export type ChildMessage =
  | { type: 'ready'; url: string }
  | {
      type: 'phase';
      loopDelayP50Ms: number;
      loopDelayP99Ms: number;
      loopDelayMaxMs: number;
      peakRssBytes: number;
      lifetimeMaxRssBytes: number;
      /** process.memoryUsage() at the phase's end: what of the RSS V8 knows of (heap, external, array buffers). */
      memoryAtEnd: NodeJS.MemoryUsage;
      /** CPU seconds the phase cost, by thread: the event loop, libvips's pool, and all the rest (inference, GC, libuv). */
      cpuSeconds: { eventLoop: number; eventLoopSystem: number; libvips: number; other: number };
      /** Fraction of the phase the event loop was busy (performance.eventLoopUtilization). */
      eventLoopUtilization: number;
    }
  | { type: 'failed'; error: string };

const clockTicksPerSecond = 100;

/**
 * CPU seconds by thread group from /proc (Linux; elsewhere all zero). Threads that ended during the
 * phase are missing from the end reading, so a group can only be under-counted, never over.
 */
function threadCpuSeconds(): { eventLoop: number; eventLoopSystem: number; libvips: number; other: number } {
  const totals = { eventLoop: 0, eventLoopSystem: 0, libvips: 0, other: 0 };
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return totals;
  }
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the counters follow it.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
      const name = readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim();
      if (Number(task) === process.pid) {
        totals.eventLoop += seconds;
        totals.eventLoopSystem += Number(fields[12]) / clockTicksPerSecond;
      } else if (name.startsWith('libvips')) totals.libvips += seconds;
      else totals.other += seconds;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return totals;
}

function send(message: ChildMessage): void {
  process.send!(message);
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (config.ENSURE_DEFAULT_MODEL) await ensureDefaultModel(config.MODEL_REPOSITORY);
  const app = await buildApp(config);
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  await app.models.loadAll(
    config.MODELS.split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  const failed = [...app.models.entries.values()].filter((entry) => entry.state !== 'ready');
  if (failed.length > 0) throw new Error(failed.map((entry) => `${entry.folder}: ${entry.error}`).join('; '));

  // Each sample is the whole interval between the monitor's timer ticks (an idle loop reads the
  // resolution itself), so the resolution is subtracted to leave the delay proper. Each tick wakes
  // the loop: at 1 ms the monitor alone cost the idle service 26 against 13 CPU ms/s at 10 ms (both
  // measured together, load average 6.5), CPU the model would otherwise have had.
  const resolutionMs = Number(process.env.BENCH_LOOP_RESOLUTION_MS ?? 10);
  const loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
  const delayMs = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - resolutionMs);
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  sampler.unref();

  // BENCH_PROFILE_DIR: a CPU profile of the event loop for each load phase alone, without start-up.
  const profileDirectory = process.env.BENCH_PROFILE_DIR;
  const profiler = profileDirectory ? new Session() : null;
  profiler?.connect();
  let profiles = 0;
  let cpuAtStart = threadCpuSeconds();
  let utilizationAtStart = performance.eventLoopUtilization();
  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'phase-start') {
      if (profiler) {
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      cpuAtStart = threadCpuSeconds();
      utilizationAtStart = performance.eventLoopUtilization();
      loopDelay.reset();
      loopDelay.enable();
      peakRss = process.memoryUsage.rss();
    } else if (message.type === 'phase-end') {
      loopDelay.disable();
      const cpu = threadCpuSeconds();
      if (profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        writeFileSync(`${profileDirectory}/phase-${process.pid}-${++profiles}.cpuprofile`, JSON.stringify(profile));
      }
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      send({
        type: 'phase',
        loopDelayP50Ms: delayMs(loopDelay.percentile(50)),
        loopDelayP99Ms: delayMs(loopDelay.percentile(99)),
        loopDelayMaxMs: delayMs(loopDelay.max),
        peakRssBytes: peakRss,
        // ru_maxrss is in KiB on Linux and covers start-up and model loading as well.
        lifetimeMaxRssBytes: process.resourceUsage().maxRSS * 1024,
        memoryAtEnd: process.memoryUsage(),
        cpuSeconds: {
          eventLoop: cpu.eventLoop - cpuAtStart.eventLoop,
          eventLoopSystem: cpu.eventLoopSystem - cpuAtStart.eventLoopSystem,
          libvips: cpu.libvips - cpuAtStart.libvips,
          other: cpu.other - cpuAtStart.other,
        },
        eventLoopUtilization: performance.eventLoopUtilization(utilizationAtStart).utilization,
      });
    } else if (message.type === 'exit') {
      clearInterval(sampler);
      await app.close();
      process.exit(0);
    }
  });
  send({ type: 'ready', url });
}

main().catch((error) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
