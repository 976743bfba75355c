import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
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
