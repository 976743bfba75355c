import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'vitest';
import { openApiPath, renderOpenApiDocument } from '../scripts/generate-openapi.js';

test('the committed OpenAPI document matches the routes (run `npm run openapi` after changing a schema)', async () => {
  const committed = await readFile(openApiPath, 'utf8');
  const rendered = await renderOpenApiDocument();
  assert.ok(committed === rendered, `${openApiPath} is stale: run \`npm run openapi\` and commit the result`);
  const document = JSON.parse(rendered);
  assert.equal(document.openapi, '3.1.0');
  for (const path of ['/v1/models/{model}/predict', '/v1/models', '/v1/models/{model}', '/healthz', '/readyz', '/metrics']) {
    assert.ok(document.paths[path], `${path} is documented`);
  }
  const form = document.paths['/v1/models/{model}/predict'].post.requestBody.content['multipart/form-data'];
  assert.deepEqual(form.schema.properties.image, { type: 'string', format: 'binary', description: 'The image file.' });
  assert.equal(form.encoding.boxes.contentType, 'application/json');
});

test('every route the bearer token guards says so in the document, and no other does', async () => {
  const document = JSON.parse(await renderOpenApiDocument());
  for (const [path, operations] of Object.entries<Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>(
    document.paths,
  )) {
    const guarded = path.startsWith('/v1/') || path.startsWith('/v2/models/');
    for (const [method, operation] of Object.entries(operations)) {
      assert.equal(Boolean(operation.security), guarded, `${method.toUpperCase()} ${path}: security`);
      if (guarded) assert.ok(operation.responses['401'], `${method.toUpperCase()} ${path}: 401 documented`);
    }
  }
});
