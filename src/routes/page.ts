import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

/**
 * Exactly what the page loads: its own script, stylesheet and example image, images the person opens
 * (blob: URLs) and the API on this origin. Nothing inline, nothing from elsewhere.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page's files: URL path → file under the repository root, with its media type. */
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'public/index.html', type: 'text/html; charset=utf-8' },
  '/page/app.js': { file: 'public/app.js', type: 'text/javascript; charset=utf-8' },
  '/page/style.css': { file: 'public/style.css', type: 'text/css; charset=utf-8' },
  '/page/example.jpg': { file: 'examples/face.jpg', type: 'image/jpeg' },
  '/page/favicon.svg': { file: 'public/favicon.svg', type: 'image/svg+xml' },
};

/** src/routes when run by tsx, dist/src/routes when compiled: the root is whichever holds public/. */
function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', '..'), resolve(here, '..', '..', '..')];
  const root = candidates.find((candidate) => existsSync(join(candidate, 'public', 'index.html')));
  if (root === undefined) throw new Error(`the page's files (public/index.html) are not in ${candidates.join(' or ')}`);
  return root;
}

/** GET / and its assets: public like /docs; the page calls the protected API with the token a person types. */
export const pageRoutes: FastifyPluginAsync = async (app) => {
  const root = repositoryRoot();
  for (const [url, { file, type }] of Object.entries(PAGE_FILES)) {
    // Read once: the files are small and fixed for the life of the process.
    const bytes = await readFile(join(root, file));
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      void reply.type(type).header('content-security-policy', PAGE_CONTENT_SECURITY_POLICY).header('cache-control', 'no-cache');
      return bytes;
    });
  }
};
