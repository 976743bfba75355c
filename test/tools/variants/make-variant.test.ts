/**
 * The variant maker end to end: ONNX Runtime's Python quantizer in the tool's own virtual environment
 * (created once, then cached in .cache/variants-venv), the deviation it writes, its budget, and the
 * service serving what it wrote. The first run installs the pinned wheels and takes a minute or two.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseManifest } from '../../../src/models/manifest.js';
import { calibrationSet } from '../../../tools/variants/calibration.js';
import { makeVariant, VariantOverBudgetError, type MakeVariantResult } from '../../../tools/variants/make-variant.js';
import { ensurePythonEnvironment } from '../../../tools/variants/python-env.js';
import { buildDotsModel, dotsManifest, writeModelFolder } from '../../helpers/fixture-models.js';
import { dotImage, type Dot } from '../../helpers/images.js';
import { createRng } from '../../helpers/prng.js';
import { postJson, startService, type RunningService } from '../../helpers/service.js';
import { referenceDeviation } from './reference-deviation.js';

// 45 px images: the whole-image crop (side = diagonal, 63.6 px) maps almost 1:1 onto the 64 px input.
const IMAGE_SIZE = 45;
const INPUT_PER_IMAGE_PX = 64 / (IMAGE_SIZE * Math.SQRT2);

/** One dot in each half of the image, as the dots fixture expects (left_dot at x < S/2). */
function randomDots(seed: number): [Dot, Dot] {
  const rng = createRng(seed);
  const dot = (lo: number, hi: number): Dot => ({
    x: rng.range(lo, hi),
    y: rng.range(7, IMAGE_SIZE - 7),
    sigma: rng.range(1.2, 2),
  });
  return [dot(6, 17), dot(28, 39)];
}

const fetchJson = async (url: string) => (await fetch(url)).json() as Promise<any>;

describe('models:variant', () => {
  let root: string;
  let modelsDir: string;
  let calibrationDir: string;
  let int8: MakeVariantResult;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'huber-variants-test-'));
    modelsDir = path.join(root, 'models');
    calibrationDir = path.join(root, 'calibration');
    await mkdir(calibrationDir, { recursive: true });
    for (let i = 0; i < 12; i++)
      await writeFile(
        path.join(calibrationDir, `dots-${String(i).padStart(2, '0')}.png`),
        await dotImage(IMAGE_SIZE, IMAGE_SIZE, randomDots(100 + i)),
      );
    // The plain dots model for the budget test, and its INT8-friendly twin (momentUnit 'crop').
    await writeModelFolder(modelsDir, dotsManifest('dots', 'mu'), buildDotsModel());
    await writeModelFolder(modelsDir, dotsManifest('dots-crop', 'mu'), buildDotsModel({ momentUnit: 'crop' }));
    await ensurePythonEnvironment({ log: () => undefined });
    int8 = await makeVariant({
      modelsDir,
      model: 'dots-crop',
      precision: 'int8',
      calibration: calibrationDir,
      count: 12,
      maxPositionPx: 0.5,
      log: () => undefined,
    });
  }, 600_000);
  afterAll(async () => rm(root, { recursive: true, force: true }));

  test('writes <model>-int8 with precision, the parent it came from and the deviation it measured', async () => {
    const folder = path.join(modelsDir, 'dots-crop-int8');
    assert.equal(int8.folder, folder);
    const manifest = parseManifest(JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')), 'variant');
    assert.equal(manifest.name, 'dots-crop-int8');
    assert.equal(manifest.precision, 'int8');
    const parentBytes = await readFile(path.join(modelsDir, 'dots-crop', 'model.onnx'));
    const sha256 = spawnSync('sha256sum', [path.join(modelsDir, 'dots-crop', 'model.onnx')], { encoding: 'utf8' }).stdout.split(
      ' ',
    )[0];
    assert.deepEqual(manifest.derivedFrom, { name: 'dots-crop', version: '1', sha256 });
    assert.notDeepEqual(await readFile(path.join(folder, 'model.onnx')), parentBytes);
    assert.deepEqual(
      {
        images: manifest.deviation?.images,
        crops: manifest.deviation?.crops,
        calibration: manifest.deviation?.calibration,
        budget: manifest.deviation?.maxPositionPxBudget,
      },
      { images: 12, crops: 24, calibration: 'images', budget: 0.5 },
    );
  });

  test('the INT8 graph is ONNX Runtime QDQ: quantize/dequantize pairs around int8 weights', async () => {
    const text = (await readFile(path.join(int8.folder, 'model.onnx'))).toString('latin1');
    assert.ok(text.includes('QuantizeLinear') && text.includes('DequantizeLinear'), 'no Q/DQ nodes in the variant');
  });

  test("the manifest's deviation equals an independent recomputation from both models' outputs", async () => {
    const parentManifest = parseManifest(dotsManifest('dots-crop', 'mu'), 'parent');
    // The same crops the tool used: the service's sampler over the calibration images, each with its mirror.
    const set = await calibrationSet(parentManifest, { directory: calibrationDir, count: 12 });
    const run = async (file: string) => {
      const session = await ort.InferenceSession.create(file);
      const result = await session.run({ input: new ort.Tensor('float32', set.crops, [set.count, 3, 64, 64]) });
      await session.release();
      return result.output!.data as Float32Array;
    };
    const parent = await run(path.join(modelsDir, 'dots-crop', 'model.onnx'));
    const variant = await run(path.join(int8.folder, 'model.onnx'));
    const expected = referenceDeviation(parentManifest, parent, variant, set.count);
    const written = int8.manifest.deviation!;
    expect([written.maxPositionPx, written.meanPositionPx, written.maxRmseRelative, written.meanNllDelta]).toBeCloseToNested(
      [expected.maxPositionPx, expected.meanPositionPx, expected.maxRmseRelative, expected.meanNllDelta],
      { rel: 1e-6, abs: 1e-9 },
    );
    // Quantization really changed the outputs, within the budget.
    expect(expected.maxPositionPx).toBeGreaterThan(0.001);
    expect(expected.maxPositionPx).toBeLessThanOrEqual(0.5);
  });

  test('a variant past the budget is measured, refused and not written', async () => {
    // The plain dots model's moments span 64× the mass's range in one tensor; INT8 activations cannot hold both.
    const attempt = makeVariant({
      modelsDir,
      model: 'dots',
      precision: 'int8',
      count: 4,
      maxPositionPx: 0.5,
      log: () => undefined,
    });
    await expect(attempt).rejects.toBeInstanceOf(VariantOverBudgetError);
    const error = (await attempt.catch((e: unknown) => e)) as VariantOverBudgetError;
    expect(error.deviation.maxPositionPx).toBeGreaterThan(0.5);
    assert.match(error.message, /over the budget of 0\.5 px .*nothing was written/);
    assert.equal(existsSync(path.join(modelsDir, 'dots-int8')), false);
  });

  test('the command line exits 3 over budget, naming the measured deviation, and writes nothing', () => {
    const cli = path.resolve('tools/variants/cli.ts');
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        cli,
        '--model',
        'dots-crop',
        '--precision',
        'int8',
        '--calibration',
        calibrationDir,
        '--count',
        '4',
        '--max-position-px',
        '0.0001',
        '--name',
        'tight',
        '--models-dir',
        modelsDir,
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(result.status, 3, result.stderr);
    assert.match(result.stderr, /moves keypoints by up to \d+\.\d+ input px .* over the budget of 0\.0001 px/);
    assert.equal(existsSync(path.join(modelsDir, 'tight')), false);
  });

  test('the command line refuses bad arguments with exit 2', () => {
    const cli = path.resolve('tools/variants/cli.ts');
    const result = spawnSync(process.execPath, ['--import', 'tsx', cli, '--model', 'dots', '--precision', 'int4'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--precision must be int8 or fp16, got "int4"/);
  });

  test('an FP16 variant keeps the dots within a hundredth of a pixel of FP32', async () => {
    const fp16 = await makeVariant({
      modelsDir,
      model: 'dots',
      precision: 'fp16',
      count: 3,
      maxPositionPx: 0.5,
      log: () => undefined,
    });
    assert.equal(fp16.manifest.precision, 'fp16');
    assert.equal(fp16.manifest.deviation?.calibration, 'generated');
    expect(fp16.deviation.maxPositionPx).toBeLessThan(0.01);
  });

  describe('served', () => {
    let service: RunningService;
    beforeAll(async () => {
      service = await startService({
        models: ['dots'],
        prepare: async (repository) => {
          for (const name of ['dots-crop', 'dots-crop-int8'])
            await cp(path.join(modelsDir, name), path.join(repository, name), { recursive: true });
        },
      });
    }, 120_000);
    afterAll(async () => service?.close());

    test("GET /v1/models reports each model's precision, and the variant's manifest its parent", async () => {
      const { models } = await fetchJson(`${service.url}/v1/models`);
      const byName = new Map<string, any>(models.map((model: any) => [model.name, model]));
      assert.equal(byName.get('dots')?.precision, 'fp32');
      assert.equal(byName.get('dots-crop-int8')?.state, 'ready');
      assert.equal(byName.get('dots-crop-int8')?.precision, 'int8');
      assert.equal(byName.get('dots-crop-int8')?.manifest.derivedFrom.name, 'dots-crop');
    });

    test('/metrics labels huber_model_info with the precision', async () => {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      assert.match(text, /huber_model_info\{model="dots-crop-int8",[^}]*precision="int8",state="ready"\} 1/);
      assert.match(text, /huber_model_info\{model="dots",[^}]*precision="fp32",state="ready"\} 1/);
    });

    test('INT8 predictions name their precision and find the dots within 0.5 input px', async () => {
      let worst = 0;
      for (let i = 0; i < 6; i++) {
        const dots = randomDots(900 + i);
        const response = await postJson(`${service.url}/v1/models/dots-crop-int8/predict`, {
          image: (await dotImage(IMAGE_SIZE, IMAGE_SIZE, dots)).toString('base64'),
        });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.model.precision, 'int8');
        response.body.instances[0].keypoints.forEach((keypoint: { x: number; y: number }, k: number) => {
          worst = Math.max(worst, Math.hypot(keypoint.x - dots[k]!.x, keypoint.y - dots[k]!.y) * INPUT_PER_IMAGE_PX);
        });
      }
      expect(worst).toBeLessThan(0.5);
      const fp32 = await postJson(`${service.url}/v1/models/dots/predict`, {
        image: (await dotImage(IMAGE_SIZE, IMAGE_SIZE, randomDots(1))).toString('base64'),
      });
      assert.equal(fp32.body.model.precision, 'fp32');
    });
  });
});
