// Generates the untrained default model (models/resnet101-huber-wflw/model.onnx)
// if it is missing. Usage: npm run models:default -- [modelsDir] [--force]
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureDefaultModel } from '../tools/model-builder/default-model.js';

export { ensureDefaultModel };
export type { EnsureDefaultModelResult } from '../tools/model-builder/default-model.js';

// scripts/ (run by tsx) or dist/scripts/ (compiled, as in the container) → repository root
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = basename(dirname(here)) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..');

async function main(argv: string[]): Promise<void> {
  const force = argv.includes('--force');
  const positional = argv.filter((a) => !a.startsWith('--'));
  const modelsDir = resolve(positional[0] ?? join(repoRoot, 'models'));
  const r = await ensureDefaultModel(modelsDir, { force });
  if (r.manifestCreated) console.log(`wrote ${r.manifestPath}`);
  if (r.modelCreated) {
    console.log(
      `generated ${r.modelPath}: ${(r.bytes / 1e6).toFixed(1)} MB in ${(r.generationMs / 1000).toFixed(1)} s ` +
        '(seeded, untrained weights)',
    );
  } else {
    console.log(`${r.modelPath} already exists (${(r.bytes / 1e6).toFixed(1)} MB); left as is`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
