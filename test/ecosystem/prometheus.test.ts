import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { dotImage } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';
import { requireTool } from '../helpers/required-tool.js';

const run = promisify(execFile);
const prometheusDir = path.resolve('deploy/prometheus');

describe('Prometheus rules and config, checked by promtool', () => {
  test('promtool check rules deploy/prometheus/rules.yml', async () => {
    await requireTool('promtool');
    const { stdout } = await run('promtool', ['check', 'rules', 'rules.yml'], { cwd: prometheusDir });
    assert.match(stdout, /SUCCESS: \d+ rules found/);
  });

  test('promtool check config deploy/prometheus/prometheus.yml (the file docker-compose.yml mounts)', async () => {
    await requireTool('promtool');
    const { stdout } = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: prometheusDir });
    assert.match(stdout, /is valid prometheus config file syntax/);
  });

  test('promtool test rules deploy/prometheus/rules.test.yml (error rate, queue saturation, uncertainty drift)', async () => {
    await requireTool('promtool');
    const { stdout } = await run('promtool', ['test', 'rules', 'rules.test.yml'], { cwd: prometheusDir });
    assert.match(stdout, /SUCCESS/);
  });

  test('every alert the issue asks for is defined', async () => {
    const rules = parse(await readFile(path.join(prometheusDir, 'rules.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string }> }>;
    };
    const alerts = rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert)).filter(Boolean);
    assert.deepEqual(alerts.sort(), [
      'HuberKeypointsHighErrorRate',
      'HuberKeypointsPredictedUncertaintyRising',
      'HuberKeypointsQueueSaturated',
    ]);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;

describe('a real Prometheus scraping the service', { timeout: 30_000 }, () => {
  let service: RunningService;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let workDir: string;
  let log = '';

  beforeAll(async () => {
    await requireTool('prometheus');
    service = await startService({ models: ['dots'] });
    workDir = await mkdtemp(path.join(os.tmpdir(), 'huber-prometheus-'));
    // The committed config, pointed at this test's server and scraping every second.
    const config = parse(await readFile(path.join(prometheusDir, 'prometheus.yml'), 'utf8')) as Record<string, any>;
    assert.deepEqual(
      config.scrape_configs.map((scrape: { job_name: string }) => scrape.job_name),
      ['huber-keypoints'],
    );
    config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' };
    config.rule_files = (config.rule_files as string[]).map((file) => path.join(prometheusDir, file));
    config.scrape_configs[0].static_configs = [{ targets: [new URL(service.url).host] }];
    const configPath = path.join(workDir, 'prometheus.yml');
    await writeFile(configPath, stringify(config));

    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${path.join(workDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk) => (log += chunk));
    prometheus.stderr!.on('data', (chunk) => (log += chunk));
    await waitFor('Prometheus to be ready', 10_000, async () => (await fetch(`${prometheusUrl}/-/ready`)).ok);
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    await service?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  async function waitFor(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + ms;
    let last: unknown;
    while (Date.now() < deadline) {
      if (prometheus.exitCode !== null) assert.fail(`prometheus exited with ${prometheus.exitCode}: ${log}`);
      try {
        if (await check()) return;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.fail(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\nprometheus log:\n${log}`);
  }

  async function query(promql: string): Promise<Vector> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data: { resultType: string; result: Vector }; error?: string };
    assert.equal(body.status, 'success', `${promql}: ${body.error}`);
    return body.data.result;
  }
  const scalar = async (promql: string) => {
    const result = await query(promql);
    return result.length === 1 ? Number(result[0]!.value[1]) : NaN;
  };

  /** The service's own sample, read straight from its /metrics, for comparison with what Prometheus stored. */
  async function exposed(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (candidate) =>
          candidate.startsWith(`${name}{`) &&
          Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)),
      );
    assert.ok(line, `${name} ${JSON.stringify(labels)} not in /metrics`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }

  test('finds the request counter, the inference histogram and the uncertainty histogram with the expected values', async () => {
    const box = { x: 20, y: 20, width: 200, height: 160 };
    const png = await dotImage(240, 200, [
      { x: 80, y: 90, sigma: 3 },
      { x: 170, y: 110, sigma: 3 },
    ]);
    const predictions = 5;
    let relativeRmse = 0;
    for (let i = 0; i < predictions; i++) {
      const response = await request(service.url)
        .post('/v1/models/dots/predict')
        .send({ image: png.toString('base64'), boxes: [box] });
      assert.equal(response.status, 200);
      relativeRmse = response.body.instances[0].keypoints[0].rmse / Math.hypot(box.width, box.height);
    }
    const inferences = await exposed('huber_stage_duration_seconds_count', { model: 'dots', stage: 'inference' });
    assert.ok(inferences >= predictions, `${inferences} inference batches for ${predictions} predictions`);

    const job = 'job="huber-keypoints"';
    const requests = `huber_http_requests_total{${job}, route="/v1/models/:model/predict", method="POST", status="200"}`;
    const inference = `huber_stage_duration_seconds_count{${job}, model="dots", stage="inference"}`;
    const keypoints = `huber_predicted_relative_rmse_count{${job}, model="dots"}`;
    await waitFor('the predictions to be scraped', 15_000, async () => {
      const [seen, inferred, described] = await Promise.all([scalar(requests), scalar(inference), scalar(keypoints)]);
      return seen === predictions && inferred === inferences && described === 2 * predictions;
    });

    assert.equal(await scalar(`up{${job}}`), 1);
    assert.ok((await scalar(`huber_stage_duration_seconds_sum{${job}, model="dots", stage="inference"}`)) > 0);
    // Every keypoint's relative error falls in one bucket: the first bound at or above it.
    const buckets = await query(`huber_predicted_relative_rmse_bucket{${job}, model="dots"}`);
    const bounds = buckets
      .map(({ metric, value }) => ({ le: Number(metric.le), count: Number(value[1]) }))
      .sort((a, b) => a.le - b.le);
    const first = bounds.find(({ le }) => le >= relativeRmse)!;
    const below = bounds.filter(({ le }) => le < relativeRmse);
    assert.equal(first.count, 2 * predictions, `bucket le=${first.le} for relative rmse ${relativeRmse}`);
    for (const { le, count } of below) assert.equal(count, 0, `bucket le=${le} lies below ${relativeRmse}`);
    assert.equal(await scalar(`huber_predicted_instances_total{${job}, model="dots"}`), predictions);
  });

  test('loads the committed rules and evaluates them without errors', async () => {
    await waitFor('the rule groups to be evaluated', 10_000, async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/rules`);
      const body = (await response.json()) as {
        data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> };
      };
      const rules = body.data.groups.flatMap((group) => group.rules);
      const failing = rules.filter((rule) => rule.health === 'err');
      assert.deepEqual(failing, [], 'no rule fails to evaluate');
      return rules.length >= 10 && rules.every((rule) => rule.health === 'ok');
    });
    await waitFor(
      'a recorded request rate',
      10_000,
      async () => (await query('huber:http_requests:rate5m{job="huber-keypoints"}')).length > 0,
    );
  });
});
