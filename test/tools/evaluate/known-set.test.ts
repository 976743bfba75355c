import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../../tools/evaluate/cli.js';
import { wflwFlipPairs } from '../../../tools/model-builder/wflw.js';
import { writeModelFolder } from '../../helpers/fixture-models.js';
import { createRng, type Rng } from '../../helpers/prng.js';
import { postJson, startService, type RunningService } from '../../helpers/service.js';
import { buildKnownModel, knownManifest, knownModel, type KnownModel } from './known-model.js';
import {
  average,
  bins,
  coverageOf,
  keypointFacts,
  LEVELS,
  levelRadius,
  served,
  SETTINGS,
  type Box,
  type KeypointFacts,
  type Served,
} from './reference-evaluation.js';

const MODEL = 'known-98';
const IMAGE_WIDTH = 160;
const IMAGE_HEIGHT = 120;
const IMAGES = 8;
const ATTRIBUTES = ['pose', 'expression', 'illumination', 'makeup', 'occlusion', 'blur'] as const;

let service: RunningService;
let work: string;
let model: KnownModel;
const radii = LEVELS.map(levelRadius);

beforeAll(async () => {
  // Keypoints 60 and 72 (the inter-ocular pair, mirror partners) sit 10 input pixels apart.
  model = knownModel(98, wflwFlipPairs(), createRng(1201), { 60: [3, 7] });
  service = await startService({
    models: [],
    prepare: (repository) => writeModelFolder(repository, knownManifest(MODEL, model), buildKnownModel(model.raw)),
  });
  work = await mkdtemp(path.join(os.tmpdir(), 'evaluate-known-'));
  await mkdir(path.join(work, 'images', 'faces'), { recursive: true });
  for (let i = 0; i < IMAGES; i++) {
    const png = await sharp({
      create: { width: IMAGE_WIDTH, height: IMAGE_HEIGHT, channels: 3, background: { r: 40 * i, g: 90, b: 200 - 20 * i } },
    })
      .png()
      .toBuffer();
    await writeFile(path.join(work, 'images', 'faces', `face-${i}.png`), png);
  }
});

afterAll(async () => {
  await service?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Boxes on a 1/8 px grid so x_max − x_min recovers the width exactly. */
function randomBox(rng: Rng): Box {
  const grid = (v: number) => Math.round(v * 8) / 8;
  const width = grid(rng.range(30, 80));
  const height = grid(rng.range(30, 80));
  return { x: grid(rng.range(0, IMAGE_WIDTH - width)), y: grid(rng.range(0, IMAGE_HEIGHT - height)), width, height };
}

/** Truths around the tta-off prediction: g = μ + s·L⁻ᵀz with Σ = κΛ⁻¹ = LLᵀ-ish scale, s per instance. */
function placeTruths(prediction: Served[], rng: Rng, spread: number): [number, number][] {
  return prediction.map(({ mean, covariance: [[a, b], [, c]] }) => {
    const l11 = Math.sqrt(a);
    const l21 = b / l11;
    const l22 = Math.sqrt(c - l21 * l21);
    const z1 = rng.normal();
    const z2 = rng.normal();
    return [mean[0] + spread * l11 * z1, mean[1] + spread * (l21 * z1 + l22 * z2)];
  });
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  stdout.on('data', (chunk: Buffer) => chunks.stdout.push(chunk));
  stderr.on('data', (chunk: Buffer) => chunks.stderr.push(chunk));
  return main(args, { stdout, stderr }).then((code) => ({
    code,
    stdout: Buffer.concat(chunks.stdout).toString(),
    stderr: Buffer.concat(chunks.stderr).toString(),
  }));
}

function assertClearOfEdges(values: readonly number[], edges: readonly number[], what: string): void {
  for (const value of values) {
    for (const edge of edges)
      assert.ok(Math.abs(value - edge) > 1e-6 * edge, `test set-up: a ${what} ${value} sits on the edge ${edge}`);
  }
}

function probabilistic(facts: KeypointFacts[]) {
  return { nll: average(facts.map((f) => f.nll)), coverage: coverageOf(facts, radii), calibration: bins(facts) };
}

function checkProbabilistic(actual: any, expected: ReturnType<typeof probabilistic>): void {
  expect(actual.nll).toBeCloseToNested(expected.nll, { rel: 1e-9 });
  assert.deepEqual(Object.keys(actual.coverage), LEVELS.map(String));
  expect(LEVELS.map((level) => actual.coverage[String(level)])).toBeCloseToNested(expected.coverage, { rel: 1e-9 });
  assert.deepEqual(
    actual.calibration.map((bin: any) => bin.count),
    expected.calibration.map((bin) => bin.count),
  );
  expect(actual.calibration.map((bin: any) => bin.predictedRmse)).toBeCloseToNested(
    expected.calibration.map((bin) => bin.predictedRmse),
    { rel: 1e-9 },
  );
  actual.calibration.forEach((bin: any, b: number) => {
    const options = expected.calibration[b]!.empiricalRmse;
    assert.ok(
      options.some((option) => Math.abs(bin.empiricalRmse - option) <= 1e-9 * option),
      `calibration bin ${b}: empirical rmse ${bin.empiricalRmse}, expected one of ${options.join(', ')}`,
    );
  });
}

describe('WFLW through the service: every number known', () => {
  test('NME, FR, AUC, subsets, NLL, coverage and calibration match the independent computation to 1e-9', async () => {
    const rng = createRng(1202);
    const lines: string[] = [];
    const instances: { box: Box; truths: [number, number][]; flags: number[] }[] = [];
    for (let i = 0; i < 3 * IMAGES; i++) {
      const box = randomBox(rng);
      const truths = placeTruths(served(model, box, 'tta-off'), rng, rng.range(0.3, 2.5));
      // Blur is never set, so its subset must be absent from the report.
      const flags = ATTRIBUTES.map((name, a) => (name === 'blur' ? 0 : rng.uniform() < 0.4 || i === a ? 1 : 0));
      instances.push({ box, truths, flags });
      const coordinates = truths.flatMap(([x, y]) => [x, y]);
      lines.push(
        [...coordinates, box.x, box.y, box.x + box.width, box.y + box.height, ...flags, `faces/face-${i % IMAGES}.png`].join(' '),
      );
    }
    const annotations = path.join(work, 'list_98pt_rect_attr_test.txt');
    await writeFile(annotations, lines.join('\n') + '\n');
    const out = path.join(work, 'wflw-report');
    const result = await runCli([
      '--url',
      service.url,
      '--model',
      MODEL,
      '--format',
      'wflw',
      '--annotations',
      annotations,
      '--images',
      path.join(work, 'images'),
      '--out',
      out,
      '--concurrency',
      '3',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8'));

    // "model" is what predict returns, whatever fields it has.
    const direct = await postJson(`${service.url}/v1/models/${MODEL}/predict`, {
      image: (await readFile(path.join(work, 'images', 'faces', 'face-0.png'))).toString('base64'),
    });
    assert.equal(direct.status, 200);
    assert.deepEqual(report.model, direct.body.model);
    assert.equal(report.model.name, MODEL);
    assert.equal(report.format, 'wflw');
    assert.equal(report.images, IMAGES);
    assert.equal(report.instances, instances.length);
    assert.deepEqual(report.failed, []);
    assert.equal(report.partial, false);
    assert.deepEqual(Object.keys(report.settings), SETTINGS);

    for (const setting of SETTINGS) {
      const nmes: number[] = [];
      const facts: KeypointFacts[] = [];
      for (const { box, truths } of instances) {
        const prediction = served(model, box, setting);
        const [g60, g72] = [truths[60]!, truths[72]!];
        const interOcular = Math.hypot(g60[0] - g72[0], g60[1] - g72[1]);
        const keypointFactsList = prediction.map((p, k) => keypointFacts(p, truths[k]!));
        nmes.push(average(keypointFactsList.map((f) => f.distance)) / interOcular);
        facts.push(...keypointFactsList);
      }
      assertClearOfEdges(nmes, [0.1], 'NME');
      assertClearOfEdges(
        facts.map((f) => f.radius),
        radii,
        'whitened radius',
      );
      const summary = (errors: number[]) => [
        average(errors),
        errors.filter((e) => e > 0.1).length / errors.length,
        average(errors.map((e) => Math.max(0, 1 - e / 0.1))),
      ];
      const [nme, failureRate, auc] = summary(nmes);
      // The set must exercise both sides of the threshold, or FR and AUC would be checked only trivially.
      assert.ok(failureRate! > 0.1 && failureRate! < 0.9, `test set-up: FR ${failureRate}`);

      const actual = report.settings[setting];
      assert.deepEqual(Object.keys(actual), ['nme', 'failureRate', 'auc', 'subsets', 'nll', 'coverage', 'calibration'], setting);
      expect([actual.nme, actual.failureRate, actual.auc]).toBeCloseToNested([nme!, failureRate!, auc!], { rel: 1e-9 });
      const expectedSubsets = ATTRIBUTES.filter((name) => name !== 'blur');
      assert.deepEqual(Object.keys(actual.subsets), expectedSubsets);
      for (const name of expectedSubsets) {
        const a = ATTRIBUTES.indexOf(name);
        const members = nmes.filter((_, i) => instances[i]!.flags[a] === 1);
        const s = actual.subsets[name];
        expect([s.nme, s.failureRate, s.auc]).toBeCloseToNested(summary(members), { rel: 1e-9 });
      }
      const expected = probabilistic(facts);
      assert.ok(
        expected.coverage.some((c) => c > 0 && c < 1),
        `test set-up: coverage ${expected.coverage}`,
      );
      checkProbabilistic(actual, expected);
    }
    assert.match(result.stdout, /tta-ml: NME [\d.]+%, NLL [-\d.]+; ellipses at level 0.5 hold the truth [\d.]+% of the time/);
  });
});

describe('COCO through the service: every number known', () => {
  test('PCK, OKS, NLL, coverage and calibration over labelled keypoints match the independent computation to 1e-9', async () => {
    const rng = createRng(1203);
    const sigmas = Array.from({ length: 98 }, () => rng.range(0.02, 0.1));
    const images = Array.from({ length: IMAGES }, (_, i) => ({
      id: 100 + i,
      file_name: `faces/face-${i}.png`,
      width: IMAGE_WIDTH,
      height: IMAGE_HEIGHT,
    }));
    const annotations: object[] = [];
    const kept: { box: Box; truths: [number, number][]; labelled: boolean[]; area: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const box = randomBox(rng);
      const truths = placeTruths(served(model, box, 'tta-off'), rng, rng.range(0.3, 2.5));
      const visibility = truths.map(() => (rng.uniform() < 0.2 ? 0 : rng.uniform() < 0.4 ? 1 : 2));
      const keypoints = truths.flatMap(([x, y], k) => (visibility[k] === 0 ? [0, 0, 0] : [x, y, visibility[k]!]));
      const area = i % 2 === 0 ? rng.range(500, 3000) : undefined;
      annotations.push({
        id: i + 1,
        image_id: 100 + (i % IMAGES),
        bbox: [box.x, box.y, box.width, box.height],
        keypoints,
        num_keypoints: 0,
        ...(area ? { area } : {}),
      });
      kept.push({ box, truths, labelled: visibility.map((v) => v > 0), area: area ?? box.width * box.height });
    }
    // Skipped by definition: a crowd annotation and one with no labelled keypoint.
    annotations.push({ id: 98, image_id: 100, bbox: [1, 1, 50, 50], keypoints: new Array(294).fill(5), iscrowd: 1 });
    annotations.push({ id: 99, image_id: 101, bbox: [1, 1, 50, 50], keypoints: new Array(294).fill(0) });
    const file = path.join(work, 'person_keypoints.json');
    await writeFile(file, JSON.stringify({ images, annotations, sigmas, categories: [{ id: 1, name: 'known' }] }));
    const out = path.join(work, 'coco-report');
    const result = await runCli([
      '--url',
      service.url,
      '--model',
      MODEL,
      '--format',
      'coco',
      '--annotations',
      file,
      '--images',
      path.join(work, 'images'),
      '--out',
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8'));
    assert.equal(report.format, 'coco');
    assert.equal(report.instances, kept.length);
    assert.equal(report.images, IMAGES);
    assert.deepEqual(report.failed, []);

    for (const setting of SETTINGS) {
      const facts: KeypointFacts[] = [];
      const diagonals: number[] = [];
      const oks: number[] = [];
      for (const { box, truths, labelled, area } of kept) {
        const prediction = served(model, box, setting);
        let sum = 0;
        let count = 0;
        prediction.forEach((p, k) => {
          if (!labelled[k]) return;
          const f = keypointFacts(p, truths[k]!);
          facts.push(f);
          diagonals.push(Math.hypot(box.width, box.height));
          sum += Math.exp(-f.squaredError / (2 * area * (2 * sigmas[k]!) ** 2));
          count++;
        });
        oks.push(sum / count);
      }
      const alphas = [0.05, 0.1, 0.2];
      for (const alpha of alphas)
        assertClearOfEdges(
          facts.map((f, i) => f.distance / diagonals[i]!),
          [alpha],
          'normalized error',
        );
      const pck = alphas.map((alpha) => facts.filter((f, i) => f.distance <= alpha * diagonals[i]!).length / facts.length);
      assert.ok(pck[0]! > 0 && pck[2]! < 1, `test set-up: PCK ${pck}`);
      const actual = report.settings[setting];
      assert.deepEqual(Object.keys(actual), ['pck', 'oks', 'nll', 'coverage', 'calibration'], setting);
      assert.deepEqual(Object.keys(actual.pck), ['0.05', '0.1', '0.2']);
      expect(alphas.map((alpha) => actual.pck[String(alpha)])).toBeCloseToNested(pck, { rel: 1e-9 });
      expect(actual.oks).toBeCloseToNested(average(oks), { rel: 1e-9 });
      checkProbabilistic(actual, probabilistic(facts));
    }
  });
});
