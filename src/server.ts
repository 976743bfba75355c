import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { ensureDefaultModel } from './models/default-model.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(config);
  if (config.ENSURE_DEFAULT_MODEL) await ensureDefaultModel(config.MODEL_REPOSITORY);

  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an error');
    else app.log.info({ signal }, 'closing');
    await app.close();
  });

  await app.listen({ port: config.PORT, host: config.HOST });
  const only = config.MODELS.split(',').map((name) => name.trim()).filter(Boolean);
  await app.models.loadAll(only);
  const failed = [...app.models.entries.values()].filter((entry) => entry.state === 'failed');
  if (app.models.entries.size === failed.length) {
    app.log.fatal('no model could be loaded; exiting');
    await app.close();
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
