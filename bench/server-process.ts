// The service under load, in its own process so that its event-loop delay and memory are its own:
// the load generator and the limit measurement run in the parent. Configured by the environment,
// exactly like `npm start`; driven by the parent over IPC.
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
    }
  | { type: 'failed'; error: string };

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
  // resolution itself), so the resolution is kept fine and subtracted to leave the delay proper.
  const resolutionMs = 1;
  const loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
  const delayMs = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - resolutionMs);
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  sampler.unref();

  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'phase-start') {
      loopDelay.reset();
      loopDelay.enable();
      peakRss = process.memoryUsage.rss();
    } else if (message.type === 'phase-end') {
      loopDelay.disable();
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      send({
        type: 'phase',
        loopDelayP50Ms: delayMs(loopDelay.percentile(50)),
        loopDelayP99Ms: delayMs(loopDelay.percentile(99)),
        loopDelayMaxMs: delayMs(loopDelay.max),
        peakRssBytes: peakRss,
        // ru_maxrss is in KiB on Linux and covers start-up and model loading as well.
        lifetimeMaxRssBytes: process.resourceUsage().maxRSS * 1024,
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
