import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

/** Paths relative to the repository root, where npm scripts and the tests run. */
export const openApiDocumentPath = 'openapi/openapi.json';
export const clientSchemaPath = 'clients/typescript/schema.d.ts';

/** The client's types exactly as `npm run client:generate` writes them, from the committed OpenAPI document. */
export async function renderClientSchema(documentText?: string): Promise<string> {
  const document = JSON.parse(documentText ?? (await readFile(openApiDocumentPath, 'utf8')));
  const ast = await openapiTS(document, { silent: true });
  return `${COMMENT_HEADER}${astToString(ast)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await renderClientSchema();
  await writeFile(clientSchemaPath, text);
  console.log(`wrote ${clientSchemaPath} (${text.length} bytes) from ${openApiDocumentPath}`);
}
