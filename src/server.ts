import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildApp, buildMetricsApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DEFAULT_MODEL_FILE, DEFAULT_MODEL_NAME } from './models/default-model-location.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

async function defaultModelPresent(repository: string): Promise<boolean> {
  const folder = join(repository, DEFAULT_MODEL_NAME);
  try {
    const [model, manifest] = await Promise.all([stat(join(folder, DEFAULT_MODEL_FILE)), stat(join(folder, 'manifest.json'))]);
    return model.size > 0 && manifest.size > 0;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const app = await buildApp(config);
  const metricsApp = config.METRICS_PORT > 0 ? buildMetricsApp(app.metrics, config) : null;

  // SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the sessions, exit 0;
  // past the grace period close-with-grace exits non-zero.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error');
    else app.log.info({ signal }, 'closing: no new requests, finishing those in flight');
    await app.close();
    await metricsApp?.close();
    app.log.info('closed');
  });

  if (config.ENSURE_DEFAULT_MODEL && !(await defaultModelPresent(config.MODEL_REPOSITORY))) {
    // The model builder (ONNX graph writer, seeded ResNet) is loaded only when there is a model to write.
    const { ensureDefaultModel } = await import('../tools/model-builder/default-model.js');
    const result = await ensureDefaultModel(config.MODEL_REPOSITORY);
    if (result.modelCreated)
      app.log.info({ path: result.modelPath, bytes: result.bytes }, 'generated the untrained default model');
  }
  await app.listen({ port: config.PORT, host: config.HOST });
  if (metricsApp) {
    await metricsApp.listen({ port: config.METRICS_PORT, host: config.HOST });
    app.log.info({ port: config.METRICS_PORT }, 'metrics served on their own port');
  }
  const only = config.MODELS.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  await app.models.loadAll(only);
  const entries = [...app.models.entries.values()];
  if (entries.every((entry) => entry.state === 'failed')) {
    app.log.fatal(
      { models: entries.map((entry) => ({ name: entry.folder, error: entry.error })) },
      'no model could be loaded; exiting',
    );
    await app.close();
    await metricsApp?.close();
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
