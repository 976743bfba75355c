import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { formatManifest, type ModelManifestJson } from '../../src/models/manifest-json.js';
import { parseManifest, type Manifest } from '../../src/models/manifest.js';
import { calibrationSet } from './calibration.js';
import { outputDeviation, type OutputDeviation } from './deviation.js';
import { ensurePythonEnvironment, runCommand, variantToolFolder } from './python-env.js';

export type VariantPrecision = 'int8' | 'fp16';

export interface MakeVariantOptions {
  modelsDir: string;
  model: string;
  precision: VariantPrecision;
  /** A directory of images; generated images when absent. */
  calibration?: string | undefined;
  /** Images to calibrate and measure on. */
  count: number;
  /** The largest maxPositionPx (input pixels) a variant may have and still be written. */
  maxPositionPx: number;
  /** The variant's folder and name; `<model>-<precision>` by default. */
  name?: string | undefined;
  /** Replace an existing folder of that name. */
  force?: boolean;
  venv?: string | undefined;
  log?: (line: string) => void;
}

export interface VariantDeviation extends OutputDeviation {
  images: number;
  crops: number;
  calibration: 'images' | 'generated';
  maxPositionPxBudget: number;
}

export interface MakeVariantResult {
  folder: string;
  manifest: ModelManifestJson;
  deviation: VariantDeviation;
  /** What the Python side reports: tool versions and the settings it used. */
  tool: Record<string, unknown>;
}

export class VariantError extends Error {
  override name = 'VariantError';
}

/** The variant was made and measured, and its deviation is past the budget: nothing was written. */
export class VariantOverBudgetError extends VariantError {
  override name = 'VariantOverBudgetError';
  constructor(
    readonly deviation: VariantDeviation,
    model: string,
  ) {
    super(
      `the ${model} variant moves keypoints by up to ${deviation.maxPositionPx.toFixed(4)} input px from its parent on ${deviation.crops} calibration crops, ` +
        `over the budget of ${deviation.maxPositionPxBudget} px (--max-position-px); nothing was written`,
    );
  }
}

const RUN_BATCH = 8;

/** Runs a model over the crops in batches, as the service would, and returns the [crops, 5K] outputs. */
export async function runOnCrops(
  modelPath: string,
  manifest: Manifest,
  crops: Float32Array,
  count: number,
): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  try {
    const size = manifest.input.size;
    const itemSize = 3 * size * size;
    const width = 5 * manifest.keypoints.length;
    const outputs = new Float32Array(count * width);
    for (let start = 0; start < count; start += RUN_BATCH) {
      const batch = Math.min(RUN_BATCH, count - start);
      const input = new ort.Tensor('float32', crops.subarray(start * itemSize, (start + batch) * itemSize), [
        batch,
        3,
        size,
        size,
      ]);
      const result = await session.run({ [manifest.input.name]: input }, [manifest.output.name]);
      outputs.set(result[manifest.output.name]!.data as Float32Array, start * width);
    }
    return outputs;
  } finally {
    await session.release();
  }
}

async function readParent(modelsDir: string, model: string): Promise<{ manifest: Manifest; onnx: Buffer; onnxPath: string }> {
  const folder = path.join(modelsDir, model);
  const manifestPath = path.join(folder, 'manifest.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (error) {
    throw new VariantError(`model "${model}" has no readable manifest at ${manifestPath}: ${(error as Error).message}`);
  }
  const manifest = parseManifest(json, manifestPath);
  if (manifest.precision !== undefined && manifest.precision !== 'fp32') {
    throw new VariantError(`model "${model}" is itself a ${manifest.precision} variant; make variants from an fp32 model`);
  }
  const onnxPath = path.join(folder, manifest.file);
  const onnx = await readFile(onnxPath).catch((error: Error) => {
    throw new VariantError(`model "${model}" names ${manifest.file}, which cannot be read: ${error.message}`);
  });
  return { manifest, onnx, onnxPath };
}

/**
 * Makes `<model>-<precision>` with ONNX Runtime's own tools, measures it against its parent on the
 * calibration crops (docs/spec.md §12) and writes it only when maxPositionPx is within the budget.
 */
export async function makeVariant(options: MakeVariantOptions): Promise<MakeVariantResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!(options.maxPositionPx > 0) || !Number.isFinite(options.maxPositionPx)) {
    throw new VariantError(`--max-position-px must be a positive number of pixels, got ${options.maxPositionPx}`);
  }
  const name = options.name ?? `${options.model}-${options.precision}`;
  const target = path.join(options.modelsDir, name);
  if (existsSync(target) && !options.force) throw new VariantError(`${target} already exists; remove it or pass --force`);

  const parent = await readParent(options.modelsDir, options.model);
  const sha256 = createHash('sha256').update(parent.onnx).digest('hex');
  const calibration = await calibrationSet(parent.manifest, { directory: options.calibration, count: options.count });
  log(
    `Calibration: ${calibration.count} crops (${calibration.images} ${calibration.source === 'images' ? `images from ${options.calibration}` : 'generated images'}, each with its mirror)`,
  );
  const python = await ensurePythonEnvironment({ venv: options.venv, log });

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'huber-variant-'));
  try {
    const cropsPath = path.join(scratch, 'crops.f32');
    await writeFile(
      cropsPath,
      new Uint8Array(calibration.crops.buffer, calibration.crops.byteOffset, calibration.crops.byteLength),
    );
    const variantPath = path.join(scratch, 'model.onnx');
    const size = parent.manifest.input.size;
    log(
      `Making the ${options.precision} variant of ${options.model} with ONNX Runtime's ${options.precision === 'int8' ? 'static QDQ quantizer' : 'float16 converter'}`,
    );
    const made = await runCommand(python, [
      path.join(variantToolFolder(), 'make_variant.py'),
      '--parent',
      parent.onnxPath,
      '--output',
      variantPath,
      '--precision',
      options.precision,
      '--calibration',
      cropsPath,
      '--crop-shape',
      `3,${size},${size}`,
      '--input-name',
      parent.manifest.input.name,
      // 7-bit weights: without VNNI, x86 INT8 kernels add products in 16 bits and saturate on full-range
      // weights (measured on the dots fixture: keypoints off by 24 px); the output head stays float.
      '--reduce-range',
      '--float-head',
    ]);
    if (made.code !== 0) throw new VariantError(`make_variant.py failed: ${made.stderr.trim().split('\n').slice(-5).join('\n')}`);
    const tool = JSON.parse(made.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;

    log('Measuring the variant against its parent on the calibration crops');
    const parentOutputs = await runOnCrops(parent.onnxPath, parent.manifest, calibration.crops, calibration.count);
    const variantOutputs = await runOnCrops(variantPath, parent.manifest, calibration.crops, calibration.count);
    const deviation: VariantDeviation = {
      images: calibration.images,
      crops: calibration.count,
      calibration: calibration.source,
      ...outputDeviation(parent.manifest, parentOutputs, variantOutputs, calibration.count),
      maxPositionPxBudget: options.maxPositionPx,
    };
    if (!(deviation.maxPositionPx <= options.maxPositionPx)) throw new VariantOverBudgetError(deviation, name);

    const {
      precision: _parentPrecision,
      derivedFrom: _parentParent,
      deviation: _parentDeviation,
      ...inherited
    } = parent.manifest;
    const manifest = {
      ...inherited,
      name,
      description:
        `${options.precision.toUpperCase()} variant of ${options.model} ${parent.manifest.version}. ${parent.manifest.description}`.trim(),
      file: 'model.onnx',
      precision: options.precision,
      derivedFrom: { name: parent.manifest.name, version: parent.manifest.version, sha256 },
      deviation,
    } as ModelManifestJson;
    // The folder appears whole or not at all: a server scanning the repository never sees half a variant.
    const staging = path.join(options.modelsDir, `.${name}.tmp-${process.pid}`);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await rename(variantPath, path.join(staging, 'model.onnx')).catch(async () => {
      await writeFile(path.join(staging, 'model.onnx'), await readFile(variantPath));
    });
    await writeFile(path.join(staging, 'manifest.json'), formatManifest(manifest));
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return { folder: target, manifest, deviation, tool };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
