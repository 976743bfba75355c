import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { dotImage } from '../../helpers/images.js';
import { startService, type RunningService } from '../../helpers/service.js';

const CLI = path.resolve('tools/evaluate/cli.ts');
const BOX = { x: 40, y: 30, width: 240, height: 180 };
const DIAGONAL = Math.hypot(BOX.width, BOX.height);
const DOTS = [
  { x: 105.25, y: 101.5, sigma: 3 },
  { x: 214.75, y: 128.25, sigma: 3 },
];

type Mode = (request: http.IncomingMessage, predictCount: number) => 'forward' | 'unavailable' | 'hold';

/** A loopback proxy in front of the service that can answer 503 + Retry-After or hold a request open, as `mode` decides. */
async function startProxy(target: string, mode: Mode) {
  const upstream = new URL(target);
  const seen: string[] = [];
  const held: http.ServerResponse[] = [];
  let predicts = 0;
  const heldEvent = new EventTarget();
  const server = http.createServer((request, response) => {
    const isPredict = request.method === 'POST' && /\/predict$/.test(request.url ?? '');
    if (isPredict) predicts++;
    const action = isPredict ? mode(request, predicts) : 'forward';
    seen.push(`${request.method} ${request.url} ${action}`);
    if (action === 'unavailable') {
      request.resume();
      response.writeHead(503, { 'retry-after': '1', 'content-type': 'application/problem+json' });
      response.end(
        JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'queue full (test proxy)' }),
      );
      return;
    }
    if (action === 'hold') {
      request.resume();
      held.push(response);
      heldEvent.dispatchEvent(new Event('held'));
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, path: request.url, method: request.method, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    request.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    firstHold: () => (held.length > 0 ? Promise.resolve() : once(heldEvent, 'held').then(() => undefined)),
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function runCli(args: string[], whileRunning?: (child: ReturnType<typeof spawn>) => Promise<void>) {
  // The real CLI file in its own Node process (tsx as a loader, so a signal reaches the CLI itself).
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return (async () => {
    await whileRunning?.(child);
    const [code] = await exited;
    return { code, stdout, stderr };
  })();
}

let service: RunningService;
let work: string;

beforeAll(async () => {
  service = await startService({ models: ['dots'] });
  work = await mkdtemp(path.join(os.tmpdir(), 'evaluate-cli-'));
  const png = await dotImage(320, 240, DOTS);
  for (const name of ['one.png', 'two.png', 'three.png']) await writeFile(path.join(work, name), png);
});

afterAll(async () => {
  await service?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Truths off the dots by chosen fractions of the box diagonal: the dots model finds the dots within a few hundredths of a pixel. */
function cocoSet(offsets: [number, number][][], files: string[]) {
  const annotations = offsets.map((pair, i) => ({
    id: i + 1,
    image_id: i,
    bbox: [BOX.x, BOX.y, BOX.width, BOX.height],
    keypoints: pair.flatMap(([fx, fy], k) => [DOTS[k]!.x + fx * DIAGONAL, DOTS[k]!.y + fy * DIAGONAL, 2]),
  }));
  return { images: files.map((file_name, id) => ({ id, file_name })), annotations };
}

describe('npm run evaluate, the real CLI process, against the service on a socket', () => {
  test('a 503 with Retry-After is retried, a missing image and a bad annotation are reported and counted, the rest is measured', async () => {
    const proxy = await startProxy(service.url, (_request, count) => (count === 1 ? 'unavailable' : 'forward'));
    try {
      const set = cocoSet(
        [
          [
            [0.03, 0],
            [0, 0.07],
          ],
          [
            [0.15, 0],
            [0, 0.3],
          ],
          [
            [0.01, 0],
            [0, 0.01],
          ],
          [
            [0.01, 0],
            [0, 0.01],
          ],
        ],
        ['one.png', 'two.png', 'missing.png', 'broken.png'],
      );
      // Not an image: the service refuses it, and the run goes on.
      await writeFile(path.join(work, 'broken.png'), 'these bytes are no PNG');
      set.annotations.push({ id: 7, image_id: 0, bbox: [BOX.x, BOX.y, BOX.width], keypoints: [1, 2, 2, 3, 4, 2] });
      const annotations = path.join(work, 'people.json');
      await writeFile(annotations, JSON.stringify(set));
      const out = path.join(work, 'report-retry');
      const result = await runCli([
        '--url',
        proxy.url,
        '--model',
        'dots',
        '--format',
        'coco',
        '--annotations',
        annotations,
        '--images',
        work,
        '--out',
        out,
        '--concurrency',
        '1',
      ]);
      assert.equal(result.code, 0, result.stderr);

      // The first predict was answered 503 and sent again; every other request went through once (broken.png stops at its first).
      const predicts = proxy.seen.filter((line) => line.includes('/predict'));
      assert.deepEqual(predicts, [
        'POST /v1/models/dots/predict unavailable',
        ...new Array(7).fill('POST /v1/models/dots/predict forward'),
      ]);

      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8'));
      assert.equal(report.images, 2);
      assert.equal(report.instances, 2);
      assert.equal(report.partial, false);
      assert.deepEqual(
        report.failed.map((failure: { image: string }) => failure.image),
        ['one.png', 'missing.png', 'broken.png'],
      );
      assert.match(report.failed[0].reason, /people.json#annotation 7: bbox must be \[x, y, w, h\], got 3 numbers/);
      assert.match(report.failed[1].reason, /^image file not found: .*missing.png \(named by .*people.json#annotation 3\)$/);
      assert.match(report.failed[2].reason, /^tta-off: HTTP 4\d\d .*: /);
      // Distances 0.03, 0.07, 0.15, 0.3 diagonals: PCK@0.05 = 1/4, @0.1 = 2/4, @0.2 = 3/4, in every setting.
      for (const setting of ['tta-off', 'tta-ml', 'tta-mean']) {
        assert.deepEqual(report.settings[setting].pck, { '0.05': 0.25, '0.1': 0.5, '0.2': 0.75 }, setting);
        assert.equal(report.settings[setting].oks, undefined);
        assert.equal(report.settings[setting].calibration.length, 4);
      }
      assert.match(result.stderr, /skipped: .*people.json#annotation 7/);
      assert.match(result.stderr, /failed: missing.png: image file not found/);
      // stderr is a pipe here, not a terminal: no progress bar in the way.
      assert.doesNotMatch(result.stderr, /evaluating|images\/s/);
      assert.match(result.stdout, /^report: .*report-retry\/report.md \(2 images, 2 instances, 3 failed\)$/m);
      for (const file of ['report.md', 'calibration.svg', 'coverage.svg', 'cumulative-error.svg']) {
        assert.ok((await readFile(path.join(out, file), 'utf8')).length > 100, file);
      }
    } finally {
      await proxy.close();
    }
  });

  test('Ctrl-C (SIGINT) mid-run leaves a report that says it is partial', async () => {
    // The first image's three requests go through; after that the proxy never answers.
    const proxy = await startProxy(service.url, (_request, count) => (count <= 3 ? 'forward' : 'hold'));
    try {
      const set = cocoSet(
        new Array(3).fill([
          [0.02, 0],
          [0, 0.02],
        ]),
        ['one.png', 'two.png', 'three.png'],
      );
      const annotations = path.join(work, 'people-sigint.json');
      await writeFile(annotations, JSON.stringify(set));
      const out = path.join(work, 'report-sigint');
      const result = await runCli(
        [
          '--url',
          proxy.url,
          '--model',
          'dots',
          '--format',
          'coco',
          '--annotations',
          annotations,
          '--images',
          work,
          '--out',
          out,
          '--concurrency',
          '1',
        ],
        async (child) => {
          await proxy.firstHold();
          child.kill('SIGINT');
        },
      );
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /interrupted: finishing with a partial report/);
      const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8'));
      assert.equal(report.partial, true);
      assert.equal(report.images, 1);
      assert.equal(report.instances, 1);
      assert.deepEqual(report.failed, []);
      assert.deepEqual(report.settings['tta-off'].pck, { '0.05': 1, '0.1': 1, '0.2': 1 });
      assert.match(await readFile(path.join(out, 'report.md'), 'utf8'), /Partial report/);
    } finally {
      await proxy.close();
    }
  });

  test('bad arguments and an unknown model end with a message and a non-zero exit, never a stack trace', async () => {
    const usage = await runCli(['--url', service.url, '--format', 'yaml']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--model is required/);
    const annotations = path.join(work, 'people-unknown.json');
    await writeFile(
      annotations,
      JSON.stringify(
        cocoSet(
          [
            [
              [0, 0],
              [0, 0],
            ],
          ],
          ['one.png'],
        ),
      ),
    );
    const unknown = await runCli([
      '--url',
      service.url,
      '--model',
      'no-such-model',
      '--format',
      'coco',
      '--annotations',
      annotations,
      '--images',
      work,
      '--out',
      path.join(work, 'x'),
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^model no-such-model: HTTP 404/m);
    assert.doesNotMatch(unknown.stderr, /at .*\.ts:\d+/);
    const noAnnotations = path.join(work, 'no-annotations.json');
    await writeFile(noAnnotations, JSON.stringify({ images: [] }));
    const missing = await runCli([
      '--url',
      service.url,
      '--model',
      'dots',
      '--format',
      'coco',
      '--annotations',
      noAnnotations,
      '--images',
      work,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-annotations.json: missing `annotations`/);
  });
});

describe('the CLI against a service that needs a token, and against the wrong model', () => {
  test('--token is sent as a bearer token; without it the service refuses and the run says so', async () => {
    const guarded = await startService({ models: ['dots'], env: { AUTH_TOKEN: 'evaluate-secret' } });
    try {
      const annotations = path.join(work, 'people-token.json');
      await writeFile(
        annotations,
        JSON.stringify(
          cocoSet(
            [
              [
                [0.01, 0],
                [0, 0.01],
              ],
            ],
            ['one.png'],
          ),
        ),
      );
      const common = [
        '--url',
        guarded.url,
        '--model',
        'dots',
        '--format',
        'coco',
        '--annotations',
        annotations,
        '--images',
        work,
      ];
      const refused = await runCli([...common, '--out', path.join(work, 'token-refused')]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^model dots: HTTP 401/m);
      const accepted = await runCli([...common, '--out', path.join(work, 'token-accepted'), '--token', 'evaluate-secret']);
      assert.equal(accepted.code, 0, accepted.stderr);
      const report = JSON.parse(await readFile(path.join(work, 'token-accepted', 'report.json'), 'utf8'));
      assert.equal(report.instances, 1);
    } finally {
      await guarded.close();
    }
  });

  test('a WFLW file against a two-keypoint model stops with one message naming both counts', async () => {
    const coordinates = Array.from({ length: 196 }, (_, i) => String(10 + i));
    const annotations = path.join(work, 'list_98pt_rect_attr_test.txt');
    await writeFile(
      annotations,
      [...coordinates, '40', '30', '280', '210', '0', '0', '0', '0', '0', '0', 'one.png'].join(' ') + '\n',
    );
    const result = await runCli([
      '--url',
      service.url,
      '--model',
      'dots',
      '--format',
      'wflw',
      '--annotations',
      annotations,
      '--images',
      work,
      '--out',
      path.join(work, 'mismatch'),
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /list_98pt_rect_attr_test.txt:1: 98 keypoints annotated, the model dots has 2/);
  });
});
