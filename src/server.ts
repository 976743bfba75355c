import closeWithGrace from 'close-with-grace';
import { buildApp, buildMetricsApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ensureDefaultModel } from './models/default-model.js';

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

  if (config.ENSURE_DEFAULT_MODEL) {
    const result = await ensureDefaultModel(config.MODEL_REPOSITORY);
    if (result.modelCreated) app.log.info({ path: result.modelPath, bytes: result.bytes }, 'generated the untrained default model');
  }
  await app.listen({ port: config.PORT, host: config.HOST });
  if (metricsApp) {
    await metricsApp.listen({ port: config.METRICS_PORT, host: config.HOST });
    app.log.info({ port: config.METRICS_PORT }, 'metrics served on their own port');
  }
  const only = config.MODELS.split(',').map((name) => name.trim()).filter(Boolean);
  await app.models.loadAll(only);
  const entries = [...app.models.entries.values()];
  if (entries.every((entry) => entry.state === 'failed')) {
    app.log.fatal({ models: entries.map((entry) => ({ name: entry.folder, error: entry.error })) }, 'no model could be loaded; exiting');
    await app.close();
    await metricsApp?.close();
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
