import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

/** Where the committed document lives, relative to the repository root. */
export const openApiPath = 'openapi/openapi.json';

/** The OpenAPI document exactly as the server would serve it, without loading any model. */
export async function renderOpenApiDocument(): Promise<string> {
  const app = await buildApp(loadConfig({}), { logger: false });
  await app.ready();
  const document = app.swagger();
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await renderOpenApiDocument();
  await writeFile(openApiPath, text);
  console.log(`wrote ${openApiPath} (${text.length} bytes)`);
}
