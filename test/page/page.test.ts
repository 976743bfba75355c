// The demo page in a real browser: Debian's Chromium driven by puppeteer-core (no browser download).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PAGE_CONTENT_SECURITY_POLICY } from '../../src/routes/page.js';
import { relativeRmse, uncertaintyColour } from '../../src/render/uncertainty-colour.js';
import { dotImage } from '../helpers/images.js';
import { postJson, startService, type RunningService } from '../helpers/service.js';

const WIDTH = 480;
const HEIGHT = 360;
const RESULTS = path.resolve('test-results');

function chromiumPath(): string {
  const fromEnvironment = process.env.CHROMIUM_PATH;
  if (fromEnvironment) return fromEnvironment;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // Try the next name.
    }
  }
  throw new Error('no Chromium found: apt-get install -y chromium (or set CHROMIUM_PATH)');
}

type Keypoint = { x: number; y: number; rmse: number; ellipse: { semiMajor: number; semiMinor: number; angle: number } };
type Box = { x: number; y: number; width: number; height: number };

/** Each drawn element of a layer as numbers: [cx, cy, rx, ry, angle] for ellipses. */
async function drawnEllipses(page: Page, selector: string): Promise<number[][]> {
  return page.$$eval(selector, (nodes) =>
    nodes.map((node) => {
      const rotate = /^rotate\((\S+) (\S+) (\S+)\)$/.exec(node.getAttribute('transform') ?? '');
      const value = (name: string) => Number(node.getAttribute(name));
      if (!rotate || Number(rotate[2]) !== value('cx') || Number(rotate[3]) !== value('cy')) return [NaN];
      return [value('cx'), value('cy'), value('rx'), value('ry'), Number(rotate[1])];
    }),
  );
}

const expectedEllipses = (keypoints: Keypoint[]) =>
  keypoints.map((k) => [k.x, k.y, k.ellipse.semiMajor, k.ellipse.semiMinor, k.ellipse.angle]);

/** Waits until the page has drawn an answer newer than `after` (the SVG's data-prediction stamp). */
async function waitForDrawing(page: Page, after: number): Promise<number> {
  await page.waitForFunction(`Number(document.querySelector('#overlay')?.getAttribute('data-prediction') ?? 0) > ${after}`, {
    timeout: 20_000,
  });
  return page.$eval('#overlay', (svg) => Number(svg.getAttribute('data-prediction')));
}

/** Screen position of an image point, through the SVG's own transform. */
async function screenPoint(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.$eval(
    '#overlay',
    (svg, point) => {
      type Matrix = { a: number; b: number; c: number; d: number; e: number; f: number };
      const matrix = (svg as unknown as { getScreenCTM(): Matrix }).getScreenCTM();
      return { x: matrix.a * point.x + matrix.c * point.y + matrix.e, y: matrix.b * point.x + matrix.d * point.y + matrix.f };
    },
    { x, y },
  );
}

async function dragInImage(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const start = await screenPoint(page, ...from);
  const end = await screenPoint(page, ...to);
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(end.x, end.y, { steps: 8 });
  await page.mouse.up();
}

async function drawnBoxes(page: Page): Promise<Box[]> {
  return page.$$eval('#overlay rect.box', (nodes) =>
    nodes.map((node) => ({
      x: Number(node.getAttribute('x')),
      y: Number(node.getAttribute('y')),
      width: Number(node.getAttribute('width')),
      height: Number(node.getAttribute('height')),
    })),
  );
}

describe('the page at /', () => {
  let service: RunningService;
  let browser: Browser;
  let directory: string;
  let imagePath: string;
  let png: Buffer;

  beforeAll(async () => {
    const executablePath = chromiumPath();
    assert.ok(existsSync(executablePath), `${executablePath} does not exist`);
    service = await startService();
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    directory = await mkdtemp(path.join(os.tmpdir(), 'page-test-'));
    png = await dotImage(WIDTH, HEIGHT, [
      { x: 170, y: 160, sigma: 3 },
      { x: 300, y: 200, sigma: 3 },
    ]);
    imagePath = path.join(directory, 'dots.png');
    await writeFile(imagePath, png);
    await mkdir(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  async function openPage(): Promise<{ page: Page; violations: string[] }> {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 820 });
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(String(error)));
    const response = await page.goto(`${service.url}/`, { waitUntil: 'networkidle0' });
    assert.ok(response);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-security-policy']).toBe(PAGE_CONTENT_SECURITY_POLICY);
    return { page, violations };
  }

  async function predictFor(model: string, box: Box, options: Record<string, unknown>) {
    const response = await postJson(`${service.url}/v1/models/${model}/predict`, {
      image: png.toString('base64'),
      boxes: [box],
      ...options,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.instances[0] as { keypoints: Keypoint[]; views?: Array<{ mirrored: boolean; keypoints: Keypoint[] }> };
  }

  test("a box drawn with the mouse on an opened image shows predict's means and ellipses, redrawn as options change", async () => {
    const { page, violations } = await openPage();
    await page.waitForSelector('#model option[value="dots-nu"]');
    await page.select('#model', 'dots-nu');
    const input = await page.$('#file');
    assert.ok(input);
    await (input as unknown as { uploadFile(file: string): Promise<void> }).uploadFile(imagePath);
    let stamp = await waitForDrawing(page, 0);

    await dragInImage(page, [110, 80], [370, 290]);
    stamp = await waitForDrawing(page, stamp);
    const [box] = await drawnBoxes(page);
    assert.ok(box, 'the drag drew a box');
    expect([box.x, box.y, box.x + box.width, box.y + box.height]).toBeCloseToNested([110, 80, 370, 290], { abs: 2 });

    const fused = await predictFor('dots-nu', box, { tta: true, fusion: 'ml', level: 0.95 });
    expect(await drawnEllipses(page, '#overlay ellipse.uncertainty')).toBeCloseToNested(expectedEllipses(fused.keypoints), {
      rel: 1e-12,
      abs: 1e-9,
    });
    const fills = await page.$$eval('#overlay circle.mean', (nodes) => nodes.map((node) => node.getAttribute('fill')));
    expect(fills).toEqual(fused.keypoints.map((k) => uncertaintyColour(relativeRmse(k.rmse, box))));
    expect(await page.$eval('#untrained', (node) => !node.hidden && /untrained/i.test(node.textContent ?? ''))).toBe(true);

    // Hovering a mean names it and shows its covariance.
    const firstMean = await screenPoint(page, fused.keypoints[0]!.x, fused.keypoints[0]!.y);
    await page.mouse.move(firstMean.x, firstMean.y);
    await page.waitForSelector('#hover:not([hidden])');
    const hoverText = await page.$eval('#hover', (node) => node.textContent ?? '');
    expect(hoverText).toContain('left_dot');
    expect(hoverText).toContain('Covariance');

    await page.$eval('#level', (node) => {
      (node as unknown as { value: string }).value = '0.5';
      node.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.click('#views');
    await page.select('#fusion', 'mean');
    await waitForDrawing(page, stamp);
    // Options arrive one by one; wait until the drawing has all three.
    await page.waitForFunction("document.querySelectorAll('#overlay ellipse.view').length === 4", { timeout: 20_000 });
    stamp = await page.$eval('#overlay', (svg) => Number(svg.getAttribute('data-prediction')));
    const withViews = await predictFor('dots-nu', box, { tta: true, fusion: 'mean', level: 0.5, includeViews: true });
    expect(await drawnEllipses(page, '#overlay ellipse.uncertainty')).toBeCloseToNested(expectedEllipses(withViews.keypoints), {
      rel: 1e-12,
      abs: 1e-9,
    });
    for (const view of withViews.views ?? []) {
      const selector = `#overlay ellipse.view.${view.mirrored ? 'mirrored' : 'original'}`;
      expect(await drawnEllipses(page, selector)).toBeCloseToNested(expectedEllipses(view.keypoints), { rel: 1e-12, abs: 1e-9 });
    }
    await page.screenshot({ path: path.join(RESULTS, 'page-dots.png') });

    // Moving the box by dragging its inside predicts again for the moved box.
    await dragInImage(page, [200, 120], [230, 110]);
    stamp = await waitForDrawing(page, stamp);
    const [moved] = await drawnBoxes(page);
    assert.ok(moved);
    expect([moved.x - box.x, moved.y - box.y, moved.width, moved.height]).toBeCloseToNested([30, -10, box.width, box.height], {
      abs: 1.5,
    });
    const afterMove = await predictFor('dots-nu', moved, { tta: true, fusion: 'mean', level: 0.5 });
    expect(await drawnEllipses(page, '#overlay ellipse.uncertainty')).toBeCloseToNested(expectedEllipses(afterMove.keypoints), {
      rel: 1e-12,
      abs: 1e-9,
    });

    // Delete removes the selected box; with none left the whole image is the box.
    await page.keyboard.press('Delete');
    await waitForDrawing(page, stamp);
    expect(await drawnBoxes(page)).toEqual([]);
    const whole = await predictFor(
      'dots-nu',
      { x: 0, y: 0, width: WIDTH, height: HEIGHT },
      { tta: true, fusion: 'mean', level: 0.5 },
    );
    expect(await drawnEllipses(page, '#overlay ellipse.uncertainty')).toBeCloseToNested(expectedEllipses(whole.keypoints), {
      rel: 1e-12,
      abs: 1e-9,
    });

    expect(violations).toEqual([]);
    await page.close();
  });

  test('the bundled example opens with its box and a drawing', async () => {
    const { page, violations } = await openPage();
    await page.waitForSelector('#model option[value="dots"]');
    await page.click('#example');
    await waitForDrawing(page, 0);
    expect(await drawnBoxes(page)).toEqual([{ x: 200, y: 90, width: 240, height: 320 }]);
    expect(await page.$$eval('#overlay circle.mean', (nodes) => nodes.length)).toBe(2);
    expect(await page.$eval('#overlay image.input', (node) => [node.getAttribute('width'), node.getAttribute('height')])).toEqual(
      ['640', '480'],
    );
    expect(violations).toEqual([]);
    await page.close();
  });
});

describe('the page with AUTH_TOKEN set', () => {
  let service: RunningService;
  let browser: Browser;

  beforeAll(async () => {
    service = await startService({ models: ['dots'], env: { AUTH_TOKEN: 'page-test-token' } });
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  test('asks for the token, keeps it only in memory, and then works', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 820 });
    const response = await page.goto(`${service.url}/`, { waitUntil: 'networkidle0' });
    expect(response?.status()).toBe(200);
    await page.waitForSelector('#token-section:not([hidden])');
    expect(await page.$$eval('#model option', (nodes) => nodes.length)).toBe(0);

    await page.type('#token', 'wrong-token');
    await page.click('#token-form button');
    await page.waitForSelector('#token-error:not([hidden])');

    await page.type('#token', 'page-test-token');
    await page.click('#token-form button');
    await page.waitForSelector('#token-section[hidden]');
    await page.waitForSelector('#model option[value="dots"]');
    await page.click('#example');
    await waitForDrawing(page, 0);
    expect(await page.$$eval('#overlay circle.mean', (nodes) => nodes.length)).toBe(2);
    await page.screenshot({ path: path.join(RESULTS, 'page-auth.png') });

    const stored: unknown = await page.evaluate(`({
      local: localStorage.length,
      session: sessionStorage.length,
      cookie: document.cookie,
      url: location.href,
      field: document.querySelector('#token').value,
    })`);
    expect(stored).toEqual({ local: 0, session: 0, cookie: '', url: `${service.url}/`, field: '' });
    await page.close();
  });
});
