// Regenerates docs/images/page.png, the README's picture of the page: the real service with the
// default model on the bundled example face, driven in Debian's Chromium by puppeteer-core.
// Usage: npx tsx scripts/screenshot.ts   (CHROMIUM_PATH overrides the browser; the default model
// is generated first if it is missing).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_MODEL_NAME, ensureDefaultModel } from '../tools/model-builder/default-model.js';

const VIEWPORT = { width: 1280, height: 800 };
/** A keypoint to hover, so the picture shows what hovering tells: the outer corner of the right eye. */
const HOVERED_KEYPOINT = 60;

/** scripts/ under tsx, dist/scripts when compiled: the root is whichever holds public/. */
function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = [resolve(here, '..'), resolve(here, '..', '..')].find((candidate) =>
    existsSync(join(candidate, 'public', 'index.html')),
  );
  if (root === undefined) throw new Error(`no public/index.html above ${here}`);
  return root;
}

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium on PATH: apt-get install -y chromium (or set CHROMIUM_PATH)');
  }
}

async function main(): Promise<void> {
  const root = repositoryRoot();
  const models = join(root, 'models');
  const output = join(root, 'docs', 'images', 'page.png');
  await ensureDefaultModel(models);
  const config = loadConfig({
    MODEL_REPOSITORY: models,
    MODELS: DEFAULT_MODEL_NAME,
    EXECUTION_PROVIDERS: 'cpu',
    ENSURE_DEFAULT_MODEL: 'false',
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    await app.models.loadAll([DEFAULT_MODEL_NAME]);
    const page = await browser.newPage();
    await page.setViewport(VIEWPORT);
    await page.goto(`${url}/`, { waitUntil: 'networkidle0' });
    await page.waitForSelector(`#model option[value="${DEFAULT_MODEL_NAME}"]`);
    await page.click('#example');
    await page.waitForFunction(`Number(document.querySelector('#overlay')?.getAttribute('data-prediction') ?? 0) > 0`, {
      timeout: 120_000,
    });
    const mean = await page.$(`#overlay circle.mean[data-keypoint="${HOVERED_KEYPOINT}"]`);
    if (mean) await mean.hover();
    await mkdir(dirname(output), { recursive: true });
    await page.screenshot({ path: output });
    console.log(`wrote ${output} (${(await stat(output)).size} bytes)`);
  } finally {
    await browser.close();
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
