import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface WorkerEntry {
  filename: string;
  /** Extra `process.argv` for the thread. */
  argv: string[];
}

/**
 * Resolves a worker module relative to `base`. From the compiled `dist/` the `.js` file runs as is;
 * from TypeScript sources (vitest, tsx) only the `.ts` file exists, and the thread starts through
 * `typescript-worker.mjs`, which registers tsx's loader first.
 */
export function workerEntry(relative: string, base: string): WorkerEntry {
  const compiled = fileURLToPath(new URL(relative, base));
  if (existsSync(compiled)) return { filename: compiled, argv: [] };
  return {
    filename: fileURLToPath(new URL('./typescript-worker.mjs', import.meta.url)),
    argv: [compiled.replace(/\.js$/, '.ts')],
  };
}
